import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Intrusion detection counts failures in sliding windows kept in the database, so that every API
 * process behind a load balancer counts the same events: one row per watched key (an address, an
 * account, an account and a ticket) with the times of its recent events. Rows whose events have
 * all left the window are swept away.
 */
export class SharedDetectionWindows1796700000000 implements MigrationInterface {
  name = 'SharedDetectionWindows1796700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE detection_window (
        key text NOT NULL,
        events timestamptz[] NOT NULL,
        CONSTRAINT detection_window_pk PRIMARY KEY (key)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE detection_window`);
  }
}
