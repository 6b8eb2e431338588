import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An import counts the tickets whose series it changed, beside those it inserted. Jobs that ended
 * before the count existed read 0 (their operation log still names each ticket it updated).
 */
export class ImportTicketsUpdated1798100000000 implements MigrationInterface {
  name = 'ImportTicketsUpdated1798100000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE import_job ADD COLUMN tickets_updated integer NOT NULL DEFAULT 0');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE import_job DROP COLUMN tickets_updated');
  }
}
