import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operation-log events are linked into their chain at commit instead of at insert.
 *
 * The chain head's row lock orders a municipality's events, and it is held to commit. Taken at
 * insert, it was held while the application finished the request (a savepoint release, the
 * response, the COMMIT round trip), so that every other writer in the municipality, such as all
 * its vaccination sites, queued behind that. A deferred constraint trigger now takes it at commit
 * and links the event then: it is held only while the transaction commits.
 *
 * Until its transaction commits, an event has its chain but no position or hash; the linking
 * update is the one change the append-only trigger allows, once, and only to those three columns.
 */
export class AuditLinkAtCommit1796000000000 implements MigrationInterface {
  name = 'AuditLinkAtCommit1796000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      -- On insert: the chain only. The position and hash are the link's to set, never the writer's.
      CREATE FUNCTION audit_event_chain() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.chain := coalesce(NEW.municipality_code, 'platform');
        NEW.seq := NULL;
        NEW.prev_hash := NULL;
        NEW.hash := NULL;
        RETURN NEW;
      END $$;

      CREATE OR REPLACE FUNCTION audit_event_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        head audit_chain;
        linked audit_event := NEW;
      BEGIN
        INSERT INTO audit_chain (chain) VALUES (NEW.chain) ON CONFLICT (chain) DO NOTHING;
        SELECT * INTO head FROM audit_chain WHERE chain = NEW.chain FOR UPDATE;
        linked.seq := head.last_seq + 1;
        linked.prev_hash := head.last_hash;
        linked.hash := audit_event_digest(head.last_hash, linked);
        PERFORM set_config('vrs.audit_linking', 'on', true);
        UPDATE audit_event SET seq = linked.seq, prev_hash = linked.prev_hash, hash = linked.hash WHERE id = NEW.id;
        PERFORM set_config('vrs.audit_linking', 'off', true);
        UPDATE audit_chain SET last_seq = linked.seq, last_hash = linked.hash WHERE chain = NEW.chain;
        RETURN NULL;
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

      DROP TRIGGER audit_event_link ON audit_event;
      CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_chain();
      CREATE CONSTRAINT TRIGGER audit_event_link AFTER INSERT ON audit_event
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_event_link();
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TRIGGER audit_event_link ON audit_event;
      DROP TRIGGER audit_event_chain ON audit_event;
      DROP FUNCTION audit_event_chain();

      CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_event' AND current_setting('vrs.audit_archiving', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'the operation log is append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$;

      CREATE OR REPLACE FUNCTION audit_event_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
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
    `);
  }
}
