import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Signed checkpoints of the operation log.
 *
 * The hash chains and their heads live in the database, and so does audit_event_digest(): its
 * owner can edit an event, recompute every later hash and move the head, and the chain verifies.
 * A checkpoint records, for each chain that moved since the previous one, the position and hash of
 * its last event, and carries a MAC under a key derived from MASTER_KEY, which the database never
 * holds (src/crypto/audit-checkpoint.ts). Each `verify-audit` run writes one into the series of
 * what it verified: every chain ('all') or one chain (its name). A checkpoint's MAC signs the
 * previous one's digest and MAC, so one edited or removed in the middle breaks the series.
 *
 * Both tables are append-only, as the log is: the application role may read and insert, and
 * triggers refuse changes whoever asks.
 */
export class AuditCheckpoint1798000000000 implements MigrationInterface {
  name = 'AuditCheckpoint1798000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE audit_checkpoint (
        scope text NOT NULL,
        position bigint NOT NULL,
        taken_at timestamptz NOT NULL,
        mac bytea NOT NULL,
        CONSTRAINT audit_checkpoint_pk PRIMARY KEY (scope, position),
        CONSTRAINT audit_checkpoint_position_positive CHECK (position >= 1),
        CONSTRAINT audit_checkpoint_mac_length CHECK (length(mac) = 16)
      );

      CREATE TABLE audit_checkpoint_head (
        scope text NOT NULL,
        position bigint NOT NULL,
        chain text NOT NULL,
        seq bigint NOT NULL,
        hash bytea NOT NULL,
        CONSTRAINT audit_checkpoint_head_pk PRIMARY KEY (scope, position, chain),
        CONSTRAINT audit_checkpoint_head_checkpoint_fk FOREIGN KEY (scope, position) REFERENCES audit_checkpoint (scope, position),
        CONSTRAINT audit_checkpoint_head_seq_positive CHECK (seq >= 1)
      );
      -- Which chains moved since a series last recorded them.
      CREATE INDEX audit_checkpoint_head_chain_idx ON audit_checkpoint_head (scope, chain, seq);

      CREATE FUNCTION audit_checkpoint_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the operation log''s checkpoints are append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$;
      CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE OR DELETE ON audit_checkpoint FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_refuse_change();
      CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoint_refuse_change();
      CREATE TRIGGER audit_checkpoint_head_no_update BEFORE UPDATE OR DELETE ON audit_checkpoint_head FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_refuse_change();
      CREATE TRIGGER audit_checkpoint_head_no_truncate BEFORE TRUNCATE ON audit_checkpoint_head FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoint_refuse_change();

      REVOKE UPDATE, DELETE, TRUNCATE ON audit_checkpoint, audit_checkpoint_head FROM vrs_app;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TABLE audit_checkpoint_head;
      DROP TABLE audit_checkpoint;
      DROP FUNCTION audit_checkpoint_refuse_change();
    `);
  }
}
