import { MigrationInterface, QueryRunner } from 'typeorm';

/** A security alert for an integrator whose eligibility checks keep finding nothing, over any tickets. */
export class EligibilityMissesAlert1797300000000 implements MigrationInterface {
  name = 'EligibilityMissesAlert1797300000000';

  async up(db: QueryRunner): Promise<void> {
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING', 'TICKET_SCAN_SWEEP', 'ELIGIBILITY_MISSES']);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM security_alert WHERE kind = 'ELIGIBILITY_MISSES'`);
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING', 'TICKET_SCAN_SWEEP']);
  }

  private async allow(db: QueryRunner, kinds: string[]): Promise<void> {
    await db.query(`
      ALTER TABLE security_alert DROP CONSTRAINT security_alert_kind_valid,
        ADD CONSTRAINT security_alert_kind_valid CHECK (kind IN (${kinds.map((k) => `'${k}'`).join(', ')}))`);
  }
}
