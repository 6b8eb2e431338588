import { MigrationInterface, QueryRunner } from 'typeorm';

/** A security alert for an account that reads the My Numbers of many residents in a short time. */
export class MyNumberSweepAlert1800400000000 implements MigrationInterface {
  name = 'MyNumberSweepAlert1800400000000';

  async up(db: QueryRunner): Promise<void> {
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING', 'TICKET_SCAN_SWEEP', 'ELIGIBILITY_MISSES', 'MY_NUMBER_SWEEP']);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM security_alert WHERE kind = 'MY_NUMBER_SWEEP'`);
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING', 'TICKET_SCAN_SWEEP', 'ELIGIBILITY_MISSES']);
  }

  private async allow(db: QueryRunner, kinds: string[]): Promise<void> {
    await db.query(`
      ALTER TABLE security_alert DROP CONSTRAINT security_alert_kind_valid,
        ADD CONSTRAINT security_alert_kind_valid CHECK (kind IN (${kinds.map((k) => `'${k}'`).join(', ')}))`);
  }
}
