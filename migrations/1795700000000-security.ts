import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tamper-evident, append-only operation log; security alerts; emergency stop of functions.
 *
 * The log is hash-chained per municipality (plus one chain for platform events), so that
 * writers in different municipalities never wait on each other. A BEFORE INSERT trigger takes
 * the chain's head row lock, links the event to the previous one and advances the head; the
 * lock is held to commit, which orders events within a chain. UPDATE, DELETE and TRUNCATE are
 * refused by triggers; expired events move to audit_event_archive only through
 * archive_audit_events(), which keeps their hashes so the chain still verifies end to end.
 */
export class Security1795700000000 implements MigrationInterface {
  name = 'Security1795700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE audit_chain (
        chain text NOT NULL,
        last_seq bigint NOT NULL DEFAULT 0,
        last_hash bytea NOT NULL DEFAULT '\\x'::bytea,
        CONSTRAINT audit_chain_pk PRIMARY KEY (chain)
      );

      ALTER TABLE audit_event
        ADD COLUMN chain text,
        ADD COLUMN seq bigint,
        ADD COLUMN prev_hash bytea,
        ADD COLUMN hash bytea;

      -- The canonical form of an event: every column but the hash itself, in a fixed text layout.
      CREATE FUNCTION audit_event_digest(prev bytea, e audit_event) RETURNS bytea
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT sha256(prev || convert_to(concat_ws('|',
          e.id, e.chain, e.seq, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
          coalesce(e.request_id, ''), coalesce(e.actor_id::text, ''), coalesce(e.role, ''), e.channel,
          coalesce(e.municipality_code, ''), e.operation, array_to_string(e.target_ids, ','), e.outcome), 'UTF8'))
      $$;

      CREATE FUNCTION audit_event_link() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        head audit_chain;
      BEGIN
        NEW.chain := coalesce(NEW.municipality_code, 'platform');
        INSERT INTO audit_chain (chain) VALUES (NEW.chain) ON CONFLICT (chain) DO NOTHING;
        SELECT * INTO head FROM audit_chain WHERE chain = NEW.chain FOR UPDATE;
        NEW.seq := head.last_seq + 1;
        NEW.prev_hash := head.last_hash;
        NEW.hash := audit_event_digest(head.last_hash, NEW);
        UPDATE audit_chain SET last_seq = NEW.seq, last_hash = NEW.hash WHERE chain = NEW.chain;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_event_link BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_link();

      CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_event' AND current_setting('vrs.audit_archiving', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'the operation log is append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$;

      CREATE TABLE audit_event_archive (LIKE audit_event INCLUDING CONSTRAINTS);
      ALTER TABLE audit_event_archive ADD CONSTRAINT audit_event_archive_pk PRIMARY KEY (id);
      CREATE INDEX audit_event_chain_idx ON audit_event (chain, seq);
      CREATE INDEX audit_event_archive_chain_idx ON audit_event_archive (chain, seq);

      CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
      CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();
      CREATE TRIGGER audit_event_archive_no_update BEFORE UPDATE OR DELETE ON audit_event_archive FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
      CREATE TRIGGER audit_event_archive_no_truncate BEFORE TRUNCATE ON audit_event_archive FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();

      -- Moves events older than the cut-off (of one chain, or all) to the archive in one transaction.
      CREATE FUNCTION archive_audit_events(cutoff timestamptz, only_chain text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        moved bigint;
      BEGIN
        PERFORM set_config('vrs.audit_archiving', 'on', true);
        WITH gone AS (DELETE FROM audit_event WHERE occurred_at < cutoff AND (only_chain IS NULL OR chain = only_chain) RETURNING *)
        INSERT INTO audit_event_archive SELECT * FROM gone;
        GET DIAGNOSTICS moved = ROW_COUNT;
        PERFORM set_config('vrs.audit_archiving', 'off', true);
        RETURN moved;
      END $$;

      -- Intrusion detection: what was seen, about whom, never personal data.
      CREATE TABLE security_alert (
        id bigint GENERATED ALWAYS AS IDENTITY,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL,
        actor_id uuid,
        municipality_code char(6),
        source_address text,
        detail text NOT NULL,
        CONSTRAINT security_alert_pk PRIMARY KEY (id),
        CONSTRAINT security_alert_kind_valid CHECK (kind IN ('ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS'))
      );
      CREATE INDEX security_alert_occurred_idx ON security_alert (occurred_at);

      -- Emergency stop: a function suspended platform-wide (municipality_code NULL) or for one municipality.
      CREATE TABLE function_suspension (
        id uuid NOT NULL,
        function text NOT NULL,
        municipality_code char(6),
        reason text NOT NULL,
        suspended_by uuid NOT NULL,
        suspended_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT function_suspension_pk PRIMARY KEY (id),
        CONSTRAINT function_suspension_function_valid CHECK (function IN ('CERTIFICATE_ISSUANCE', 'INQUIRY', 'TABLET_REGISTRATION', 'IMPORT', 'EXPORT')),
        CONSTRAINT function_suspension_reason_present CHECK (length(reason) BETWEEN 1 AND 500),
        CONSTRAINT function_suspension_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code)
      );
      CREATE UNIQUE INDEX function_suspension_key ON function_suspension (function, coalesce(municipality_code, ''));

      -- Data-key rotation: a municipality keeps every key version until no row uses it.
      ALTER TABLE tenant_key DROP CONSTRAINT tenant_key_pk;
      ALTER TABLE tenant_key ADD CONSTRAINT tenant_key_pk PRIMARY KEY (municipality_code, key_version);
      ALTER TABLE tenant_key ADD CONSTRAINT tenant_key_version_positive CHECK (key_version >= 1);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE tenant_key DROP CONSTRAINT tenant_key_version_positive;
      ALTER TABLE tenant_key DROP CONSTRAINT tenant_key_pk;
      ALTER TABLE tenant_key ADD CONSTRAINT tenant_key_pk PRIMARY KEY (municipality_code);
      DROP TABLE function_suspension;
      DROP TABLE security_alert;
      DROP FUNCTION archive_audit_events(timestamptz, text);
      DROP TRIGGER audit_event_no_update ON audit_event;
      DROP TRIGGER audit_event_no_truncate ON audit_event;
      DROP TRIGGER audit_event_link ON audit_event;
      DROP TABLE audit_event_archive;
      DROP FUNCTION audit_event_refuse_change();
      DROP FUNCTION audit_event_link();
      DROP FUNCTION audit_event_digest(bytea, audit_event);
      DROP INDEX audit_event_chain_idx;
      ALTER TABLE audit_event DROP COLUMN chain, DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash;
      DROP TABLE audit_chain;
    `);
  }
}
