import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The database session whose transaction holds a running import: once that session is gone, so is
 * the transaction, and the job wrote nothing; it reads, and is recorded, as stopped at once instead
 * of two minutes after its last heartbeat. Jobs from before keep the heartbeat rule only.
 */
export class ImportJobBackend1798300000000 implements MigrationInterface {
  name = 'ImportJobBackend1798300000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE import_job ADD COLUMN backend_pid integer');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE import_job DROP COLUMN backend_pid');
  }
}
