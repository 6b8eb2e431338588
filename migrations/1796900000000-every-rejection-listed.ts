import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An import's report lists every rejected row (it used to keep the first thousand entries). The
 * job records how many rows its report lists: all of them, or none when the job failed for
 * another reason after counting some, or once later reports replaced it. Reports are read by
 * position only (the primary key), so the index by line, which served the old count, goes.
 */
export class EveryRejectionListed1796900000000 implements MigrationInterface {
  name = 'EveryRejectionListed1796900000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE import_job ADD COLUMN rejections_listed integer NOT NULL DEFAULT 0;
      UPDATE import_job j SET rejections_listed = x.lines
      FROM (SELECT municipality_code, job_id, count(DISTINCT line)::int AS lines FROM import_rejection GROUP BY 1, 2) x
      WHERE x.municipality_code = j.municipality_code AND x.job_id = j.id;
      ALTER TABLE import_job ADD CONSTRAINT import_job_rejections_listed_valid CHECK (rejections_listed BETWEEN 0 AND rows_rejected);
      DROP INDEX import_rejection_line_idx;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE INDEX import_rejection_line_idx ON import_rejection (municipality_code, job_id, line, seq);
      ALTER TABLE import_job DROP COLUMN rejections_listed;
    `);
  }
}
