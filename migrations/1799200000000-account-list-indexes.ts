import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The operator's `accounts` list is ordered by login ID whatever its case, the order of
 * account_login_id_lower_key, which serves the unfiltered list. By municipality, by role or by
 * disabled accounts alone, each filter gets an index in that order, so that a page is a range of it:
 * without them each read the whole table (about 4 ms among 50,000 accounts), or walked the login
 * IDs past every account of the other roles. The disabled accounts' index holds those rows alone;
 * an account's sign-in and lockout counters are in none of these, so those updates stay HOT. The
 * account table is small, so the indexes are built in the migration's transaction.
 */
export class AccountListIndexes1799200000000 implements MigrationInterface {
  name = 'AccountListIndexes1799200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX account_municipality_login_idx ON account (municipality_code, lower(login_id))`);
    await db.query(`CREATE INDEX account_role_login_idx ON account (role, lower(login_id))`);
    await db.query(`CREATE INDEX account_disabled_login_idx ON account (lower(login_id)) WHERE disabled_at IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX account_disabled_login_idx`);
    await db.query(`DROP INDEX account_role_login_idx`);
    await db.query(`DROP INDEX account_municipality_login_idx`);
  }
}
