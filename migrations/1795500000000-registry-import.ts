import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Resident registry imports: one row per import job with exact counts and progress, and the
 * rejected rows it reported. Rows are staged in a per-job temporary table inside the job's own
 * transaction, so no staging table lives here and a dead job leaves nothing behind.
 */
export class RegistryImport1795500000000 implements MigrationInterface {
  name = 'RegistryImport1795500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE import_job (
        municipality_code char(6) NOT NULL,
        id uuid NOT NULL,
        kind text NOT NULL,
        mode text NOT NULL,
        status text NOT NULL DEFAULT 'QUEUED',
        phase text,
        encoding text,
        bytes_read bigint NOT NULL DEFAULT 0,
        bytes_total bigint,
        rows_read integer NOT NULL DEFAULT 0,
        rows_accepted integer NOT NULL DEFAULT 0,
        rows_rejected integer NOT NULL DEFAULT 0,
        residents_inserted integer NOT NULL DEFAULT 0,
        residents_updated integer NOT NULL DEFAULT 0,
        tickets_inserted integer NOT NULL DEFAULT 0,
        failure_reason text,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT import_job_pk PRIMARY KEY (municipality_code, id),
        CONSTRAINT import_job_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code),
        CONSTRAINT import_job_kind_valid CHECK (kind IN ('RESIDENTS')),
        CONSTRAINT import_job_mode_valid CHECK (mode IN ('ABORT', 'SKIP')),
        CONSTRAINT import_job_status_valid CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
        CONSTRAINT import_job_phase_valid CHECK (phase IS NULL OR phase IN ('RECEIVING', 'CHECKING', 'MERGING')),
        CONSTRAINT import_job_encoding_valid CHECK (encoding IS NULL OR encoding IN ('UTF8', 'SJIS')),
        CONSTRAINT import_job_counts_valid CHECK (
          rows_read >= 0 AND rows_accepted >= 0 AND rows_rejected >= 0 AND rows_accepted + rows_rejected <= rows_read),
        CONSTRAINT import_job_finished_consistent CHECK ((status IN ('SUCCEEDED', 'FAILED')) = (finished_at IS NOT NULL))
      );
      CREATE INDEX import_job_created_idx ON import_job (municipality_code, created_at);

      -- Why rows were refused: line, column and a reason, never the refused value itself.
      CREATE TABLE import_rejection (
        municipality_code char(6) NOT NULL,
        job_id uuid NOT NULL,
        seq integer NOT NULL,
        line integer NOT NULL,
        column_name text NOT NULL,
        field text NOT NULL,
        code text NOT NULL,
        message text NOT NULL,
        CONSTRAINT import_rejection_pk PRIMARY KEY (municipality_code, job_id, seq),
        CONSTRAINT import_rejection_job_fk FOREIGN KEY (municipality_code, job_id)
          REFERENCES import_job (municipality_code, id) ON DELETE CASCADE,
        CONSTRAINT import_rejection_line_positive CHECK (line >= 1)
      );
      CREATE INDEX import_rejection_line_idx ON import_rejection (municipality_code, job_id, line, seq);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TABLE import_rejection;
      DROP TABLE import_job;
    `);
  }
}
