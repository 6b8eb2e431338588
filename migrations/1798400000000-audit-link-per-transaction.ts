import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A transaction's operation-log events are linked into their chain together, at commit, by the
 * first of them whose link trigger fires; the others find themselves linked and return.
 *
 * Linked one by one, each event updated the chain head once more, and each update had to step
 * over the head's earlier versions of the same transaction: a transaction of n events took time
 * growing with n². Now the head is locked and updated once per chain and transaction. The events
 * are taken in id order, their order of insertion, as the triggers fired before. A transaction
 * sees no other's unlinked events (uncommitted) and every committed event is linked, so the
 * unlinked events of a chain it sees are its own. The (chain, seq) index finds them: seq is null.
 *
 * The log is searched by target ("who touched this resident") through audit_event_target, one row
 * a target id and event, rather than by reading every event of a municipality. It is filled after
 * commit, chain by chain in sequence order, by audit_index_targets(), which the servers call in
 * the background: written inside the transactions, it made a city's registry import (two million
 * ids) a quarter slower. audit_target_mark holds how far each chain is indexed; a search reads the
 * index up to the mark and the few events past it directly. A chain's committed events always
 * form an unbroken run of sequence numbers, as its head stays locked until commit, so the mark
 * never passes an event still to come.
 */
export class AuditLinkPerTransaction1798400000000 implements MigrationInterface {
  name = 'AuditLinkPerTransaction1798400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE audit_event_target (
        target_id text NOT NULL,
        event_id bigint NOT NULL,
        PRIMARY KEY (target_id, event_id)
      );
      CREATE TABLE audit_target_mark (
        chain text PRIMARY KEY,
        seq bigint NOT NULL DEFAULT 0
      );
      REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_event_target, audit_target_mark FROM vrs_app;
      GRANT SELECT ON audit_event_target, audit_target_mark TO vrs_app;

      CREATE OR REPLACE FUNCTION audit_event_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        head audit_chain;
        e audit_event;
        ids bigint[] := '{}';
        hashes bytea[] := '{}';
      BEGIN
        IF EXISTS (SELECT FROM audit_event WHERE id = NEW.id AND seq IS NOT NULL) THEN
          RETURN NULL;
        END IF;
        INSERT INTO audit_chain (chain) VALUES (NEW.chain) ON CONFLICT (chain) DO NOTHING;
        SELECT * INTO head FROM audit_chain WHERE chain = NEW.chain FOR UPDATE;
        FOR e IN SELECT * FROM audit_event WHERE chain = NEW.chain AND seq IS NULL ORDER BY id LOOP
          e.seq := head.last_seq + cardinality(ids) + 1;
          e.prev_hash := coalesce(hashes[cardinality(hashes)], head.last_hash);
          ids := ids || e.id;
          hashes := hashes || audit_event_digest(e.prev_hash, e);
        END LOOP;
        PERFORM set_config('vrs.audit_linking', 'on', true);
        UPDATE audit_event a SET seq = head.last_seq + l.n, prev_hash = coalesce(hashes[l.n - 1], head.last_hash), hash = l.hash
        FROM unnest(ids, hashes) WITH ORDINALITY AS l(id, hash, n) WHERE a.id = l.id;
        PERFORM set_config('vrs.audit_linking', 'off', true);
        UPDATE audit_chain SET last_seq = head.last_seq + cardinality(ids), last_hash = hashes[cardinality(hashes)] WHERE chain = NEW.chain;
        RETURN NULL;
      END $$;

      -- Indexes the targets of the events past each chain's mark, in sequence order, until about
      -- max_targets rows are added (at least one event a chain), in one transaction; returns how many
      -- events it passed. Chains another caller is indexing, or the archive is moving, are skipped,
      -- and so is, until a later call, a chain whose events cannot be indexed, without holding up
      -- the others. A target no id can be (null, or longer than any) is left out.
      CREATE FUNCTION audit_index_targets(max_targets integer DEFAULT 100000) RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        c record;
        upto bigint;
        added bigint;
        budget bigint := max_targets;
        passed bigint := 0;
      BEGIN
        INSERT INTO audit_target_mark (chain)
          SELECT h.chain FROM audit_chain h WHERE NOT EXISTS (SELECT FROM audit_target_mark m WHERE m.chain = h.chain)
          ON CONFLICT (chain) DO NOTHING;
        FOR c IN SELECT m.chain, m.seq, h.last_seq FROM audit_target_mark m JOIN audit_chain h ON h.chain = m.chain
                 WHERE h.last_seq > m.seq FOR UPDATE OF m SKIP LOCKED LOOP
          SELECT max(seq) INTO upto FROM (
            SELECT seq, sum(cardinality(target_ids)) OVER (ORDER BY seq) - cardinality(target_ids) AS before
            FROM audit_event WHERE chain = c.chain AND seq > c.seq ORDER BY seq LIMIT budget
          ) s WHERE before < budget;
          -- None past the mark: the rest of the run was archived before it was indexed.
          upto := coalesce(upto, c.last_seq);
          BEGIN
            INSERT INTO audit_event_target (target_id, event_id)
              SELECT DISTINCT t.id, e.id FROM audit_event e, unnest(e.target_ids) AS t(id)
              WHERE e.chain = c.chain AND e.seq > c.seq AND e.seq <= upto AND octet_length(t.id) <= 1000 ORDER BY 1, 2;
            GET DIAGNOSTICS added = ROW_COUNT;
            UPDATE audit_target_mark SET seq = upto WHERE chain = c.chain;
            passed := passed + upto - c.seq;
            budget := budget - added;
          EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'operation-log targets of chain % not indexed: %', c.chain, SQLERRM;
          END;
          EXIT WHEN budget <= 0;
        END LOOP;
        RETURN passed;
      END $$;
      REVOKE EXECUTE ON FUNCTION audit_index_targets(integer) FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION audit_index_targets(integer) TO vrs_app;

      CREATE OR REPLACE FUNCTION archive_audit_events(cutoff timestamptz, only_chain text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        moved bigint;
      BEGIN
        -- The indexing of the chains waits, so that no target is indexed for an event moved meanwhile;
        -- a chain not indexed yet gets its mark first, for the same.
        INSERT INTO audit_target_mark (chain) SELECT chain FROM audit_chain WHERE only_chain IS NULL OR chain = only_chain
          ON CONFLICT (chain) DO NOTHING;
        PERFORM FROM audit_target_mark WHERE only_chain IS NULL OR chain = only_chain FOR UPDATE;
        INSERT INTO audit_event_archive
          SELECT * FROM audit_event
          WHERE occurred_at < cutoff AND seq IS NOT NULL AND (only_chain IS NULL OR chain = only_chain);
        -- A statement of its own sees events committed since the copy; those stay for the next run.
        WITH gone AS (
          DELETE FROM audit_event e
          WHERE e.occurred_at < cutoff AND e.seq IS NOT NULL AND (only_chain IS NULL OR e.chain = only_chain)
            AND EXISTS (SELECT FROM audit_event_archive a WHERE a.id = e.id)
          RETURNING e.id, e.target_ids
        ), unindexed AS (
          DELETE FROM audit_event_target t USING gone g WHERE t.target_id = ANY (g.target_ids) AND t.event_id = g.id
        )
        SELECT count(*) INTO moved FROM gone;
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

      DROP FUNCTION audit_index_targets(integer);
      DROP TABLE audit_target_mark;
      DROP TABLE audit_event_target;
    `);
  }
}
