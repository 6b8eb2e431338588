import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The record export names, beside a correction's new record, the record it replaced: the old one
 * points at the new one (`superseded_by`), so each line looks for the record pointing at it. This
 * index holds only superseded records, so the look-up costs no second scan of the tenant's records,
 * and being unique it also guarantees the export one line per record (one record replaces one).
 * Built CONCURRENTLY, outside a transaction: a plain build would hold off every dose registration
 * while it read a table of hundreds of millions of records. A build that failed leaves an invalid
 * index behind, which the next run drops first. Reverting drops it plainly: TypeORM reverts a
 * migration inside a transaction, where CONCURRENTLY is not allowed.
 */
export class RecordReplaces1797700000000 implements MigrationInterface {
  name = 'RecordReplaces1797700000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX CONCURRENTLY IF EXISTS vaccination_record_superseded_by_key');
    await db.query(`CREATE UNIQUE INDEX CONCURRENTLY vaccination_record_superseded_by_key ON vaccination_record (municipality_code, superseded_by)
      WHERE superseded_by IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX IF EXISTS vaccination_record_superseded_by_key');
  }
}
