import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An operation-log event leaves audit_event only for an identical copy already in the archive.
 *
 * Deleting was allowed whenever the transaction setting `vrs.audit_archiving` was on; the archive
 * function set it, but so could any owner session, and then delete events outright. The
 * exemption now rests on something a setting cannot fake: the deleted row must already be in
 * audit_event_archive, column for column, and the archive refuses updates and deletes. So
 * archive_audit_events() copies first and deletes second, and a delete that would lose an event
 * is refused whoever runs it. Only linked events move: an event still waiting for its
 * transaction to commit has no place in its chain yet.
 *
 * The verifier compares each chain's last event with its head in audit_chain, so that events
 * cut from the end of a chain leave a trace; it runs as the application role (verify-audit), which
 * may therefore read the heads. Reading needs no more: taking a head's lock needs UPDATE.
 */
export class AuditArchiveCopyFirst1797000000000 implements MigrationInterface {
  name = 'AuditArchiveCopyFirst1797000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      GRANT SELECT ON audit_chain TO vrs_app;

      CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        before_link audit_event;
        after_link audit_event;
      BEGIN
        IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_event' AND EXISTS (
             SELECT FROM audit_event_archive a WHERE a.id = OLD.id AND row(a.*) IS NOT DISTINCT FROM row(OLD.*)) THEN
          RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_event' AND current_setting('vrs.audit_linking', true) = 'on' AND OLD.hash IS NULL THEN
          before_link := OLD;
          after_link := NEW;
          after_link.seq := NULL;
          after_link.prev_hash := NULL;
          after_link.hash := NULL;
          IF row(before_link.*) IS NOT DISTINCT FROM row(after_link.*) THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION 'the operation log is append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$;

      CREATE OR REPLACE FUNCTION archive_audit_events(cutoff timestamptz, only_chain text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        moved bigint;
      BEGIN
        INSERT INTO audit_event_archive
          SELECT * FROM audit_event
          WHERE occurred_at < cutoff AND seq IS NOT NULL AND (only_chain IS NULL OR chain = only_chain);
        -- A statement of its own sees events committed since the copy; those stay for the next run.
        DELETE FROM audit_event e
          WHERE e.occurred_at < cutoff AND e.seq IS NOT NULL AND (only_chain IS NULL OR e.chain = only_chain)
            AND EXISTS (SELECT FROM audit_event_archive a WHERE a.id = e.id);
        GET DIAGNOSTICS moved = ROW_COUNT;
        RETURN moved;
      END $$;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION archive_audit_events(cutoff timestamptz, only_chain text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
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

      CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        before_link audit_event;
        after_link audit_event;
      BEGIN
        IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_event' AND current_setting('vrs.audit_archiving', true) = 'on' THEN
          RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_event' AND current_setting('vrs.audit_linking', true) = 'on' AND OLD.hash IS NULL THEN
          before_link := OLD;
          after_link := NEW;
          after_link.seq := NULL;
          after_link.prev_hash := NULL;
          after_link.hash := NULL;
          IF row(before_link.*) IS NOT DISTINCT FROM row(after_link.*) THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION 'the operation log is append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$;

      REVOKE SELECT ON audit_chain FROM vrs_app;
    `);
  }
}
