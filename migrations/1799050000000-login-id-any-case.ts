import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One account per login ID whatever the case of its letters: `Chiyoda-Officer` beside
 * `chiyoda-officer` would be two accounts that read alike in the operator's list, and sign-in finds
 * an account however its holder's keyboard capitalised the ID. Login IDs keep the letters they were
 * given. A database already holding IDs that differ only in case is not migrated: the migration
 * names them, and the operator renames all but one of each first. The account table is small, so
 * the index is built in the migration's transaction.
 */
export class LoginIdAnyCase1799050000000 implements MigrationInterface {
  name = 'LoginIdAnyCase1799050000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      DO $$
      DECLARE clashes text;
      BEGIN
        SELECT string_agg(ids, '; ') INTO clashes
          FROM (SELECT string_agg(login_id, ', ' ORDER BY login_id) AS ids FROM account GROUP BY lower(login_id) HAVING count(*) > 1) c;
        IF clashes IS NOT NULL THEN
          RAISE EXCEPTION 'login IDs that differ only in case: %. Rename all but one of each (UPDATE account SET login_id = ... WHERE id = ...) and migrate again', clashes;
        END IF;
      END $$
    `);
    await db.query(`CREATE UNIQUE INDEX account_login_id_lower_key ON account (lower(login_id))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX account_login_id_lower_key`);
  }
}
