import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An account created by the operator through the API holds a password the operator chose, so it
 * must be replaced before the account can do anything else (DESIGN.md §1: the operator holds no
 * tenant data). So are the accounts that exist already and were created through the API (their
 * creation is in the operation log, on a channel other than the shell's); operators created from the
 * shell and the demo accounts chose their own. Each change moves the password version on; a token carries the version it was
 * issued under, so every token issued before a change stops working, even one from the same second.
 */
export class PasswordChange1797500000000 implements MigrationInterface {
  name = 'PasswordChange1797500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE account
        ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
        ADD COLUMN password_version integer NOT NULL DEFAULT 0,
        ADD CONSTRAINT account_password_version_valid CHECK (password_version >= 0);
      UPDATE account a SET must_change_password = true
      WHERE a.id::text IN (
        SELECT unnest(target_ids) FROM audit_event WHERE operation = 'account.create' AND outcome = 'SUCCESS' AND channel <> 'CLI'
        UNION SELECT unnest(target_ids) FROM audit_event_archive WHERE operation = 'account.create' AND outcome = 'SUCCESS' AND channel <> 'CLI'
      );
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE account
        DROP CONSTRAINT account_password_version_valid,
        DROP COLUMN password_version,
        DROP COLUMN must_change_password;
    `);
  }
}
