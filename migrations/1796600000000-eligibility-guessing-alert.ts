import { MigrationInterface, QueryRunner } from 'typeorm';

/** A security alert for an integrator that keeps asking about one ticket with wrong birth dates. */
export class EligibilityGuessingAlert1796600000000 implements MigrationInterface {
  name = 'EligibilityGuessingAlert1796600000000';

  async up(db: QueryRunner): Promise<void> {
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING']);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM security_alert WHERE kind = 'ELIGIBILITY_GUESSING'`);
    await this.allow(db, ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS']);
  }

  private async allow(db: QueryRunner, kinds: string[]): Promise<void> {
    await db.query(`
      ALTER TABLE security_alert DROP CONSTRAINT security_alert_kind_valid,
        ADD CONSTRAINT security_alert_kind_valid CHECK (kind IN (${kinds.map((k) => `'${k}'`).join(', ')}))`);
  }
}
