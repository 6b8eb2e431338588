import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The venue (接種会場) and the doctor (医師名) of a dose, as the VRS ledger download lists them
 * (DESIGN.md §4.6): optional, given by the tablet or the officer who enters the dose, and carried
 * by a pending dose until it is matched. Adding a nullable column rewrites nothing; the checks
 * are added NOT VALID, which holds every row written from now on, and left so: every row before
 * has NULL in both columns, and validating them would scan a table of hundreds of millions of
 * records under the lock that adding the columns takes until the migration commits.
 */
export class VenueAndDoctor1797100000000 implements MigrationInterface {
  name = 'VenueAndDoctor1797100000000';

  async up(db: QueryRunner): Promise<void> {
    for (const table of ['vaccination_record', 'pending_dose']) {
      await db.query(`
        ALTER TABLE ${table} ADD COLUMN venue text, ADD COLUMN doctor_name text,
          ADD CONSTRAINT ${table}_venue_length CHECK (char_length(venue) BETWEEN 1 AND 100) NOT VALID,
          ADD CONSTRAINT ${table}_doctor_name_length CHECK (char_length(doctor_name) BETWEEN 1 AND 50) NOT VALID;
      `);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE pending_dose DROP COLUMN doctor_name, DROP COLUMN venue;
      ALTER TABLE vaccination_record DROP COLUMN doctor_name, DROP COLUMN venue;
    `);
  }
}
