import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Why an officer last set a resident marked moved out or deceased back to ACTIVE (a move that was
 * cancelled, 転出取消, or a mark entered for the wrong resident). clearResidentStatus requires the
 * reason and keeps it on the resident, as a voided ticket keeps its own; who cleared it and when
 * are in the operation log, which holds no free text. Adding a nullable column rewrites nothing;
 * its check is added NOT VALID, as venue and doctor's were: every row before holds NULL.
 */
export class ResidentStatusCleared1798700000000 implements MigrationInterface {
  name = 'ResidentStatusCleared1798700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE resident ADD COLUMN status_cleared_reason text,
        ADD CONSTRAINT resident_status_cleared_reason_length CHECK (char_length(status_cleared_reason) BETWEEN 1 AND 500) NOT VALID
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resident DROP COLUMN status_cleared_reason`);
  }
}
