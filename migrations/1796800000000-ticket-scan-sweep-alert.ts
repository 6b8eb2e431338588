import { MigrationInterface, QueryRunner } from 'typeorm';

/** A security alert for a tablet that scans far more tickets than a vaccination desk can. */
export class TicketScanSweepAlert1796800000000 implements MigrationInterface {
  name = 'TicketScanSweepAlert1796800000000';

  async up(db: QueryRunner): Promise<void> {
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING', 'TICKET_SCAN_SWEEP']);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM security_alert WHERE kind = 'TICKET_SCAN_SWEEP'`);
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING']);
  }

  private async allow(db: QueryRunner, kinds: string[]): Promise<void> {
    await db.query(`
      ALTER TABLE security_alert DROP CONSTRAINT security_alert_kind_valid,
        ADD CONSTRAINT security_alert_kind_valid CHECK (kind IN (${kinds.map((k) => `'${k}'`).join(', ')}))`);
  }
}
