import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drops vaccination_record_idempotency_key, the unique index of records by the tablet's request key
 * (municipality_code, recorded_by, idempotency_key). No statement reads it: the planner may use a
 * partial index only for a condition that implies its predicate (idempotency_key IS NOT NULL), and no
 * statement names a record's key but the INSERT that writes it. Nor does it keep anything unique that
 * is not already: a key is claimed in tablet_registration (primary key account_id, idempotency_key)
 * in the transaction that writes the record or the pending dose, one of the two per claim, and a
 * pending dose becomes one record at most; corrections and officers' records carry no key. A retry
 * finds the claim, and one COMPLETED dose per resident and number stays vaccination_record_dose_key.
 *
 * It cost every tablet dose an entry in random order and a uniqueness check: 110 bytes a dose with a
 * UUID key (measured among 206,000 records), some 44 GB of index at 400 million doses.
 *
 * Dropped CONCURRENTLY, outside a transaction, so that registrations do not queue behind the drop's
 * lock. Reverting builds it back as 1795400000000 made it, plainly: TypeORM reverts a migration
 * inside a transaction, where CONCURRENTLY is not allowed.
 */
export class RecordRequestKeyIndexDropped1800100000000 implements MigrationInterface {
  name = 'RecordRequestKeyIndexDropped1800100000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX CONCURRENTLY IF EXISTS vaccination_record_idempotency_key');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE UNIQUE INDEX vaccination_record_idempotency_key ON vaccination_record (municipality_code, recorded_by, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
  }
}
