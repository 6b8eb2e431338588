import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An account created by the operator through the API holds a password the operator chose, so it
 * must be replaced before the account can do anything else (DESIGN.md §1: the operator holds no
 * tenant data). Accounts that exist already are not forced: they were created from the shell or
 * as demo data. Each change moves the password version on; a token carries the version it was
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
