import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A registry import may wait longer than other transactions before PostgreSQL looks for a
 * deadlock, so that when an import and an officer's request wait on each other, the request (one
 * resident, sent again at once) is the one stopped rather than the import (a million rows). The
 * setting is one only a superuser changes unless granted; a cluster whose migrating user may not
 * grant it (or a PostgreSQL before 15, which cannot) keeps the default, and imports there are
 * merely told to run again when they lose.
 *
 * Reverting it leaves the grant: like the role, it belongs to the cluster, not to the database
 * migrated (pg_parameter_acl is shared), and revoking it would take the patience from the imports
 * of every other database of the cluster, which would then be the ones stopped.
 */
export class ImportDeadlockPatience1798200000000 implements MigrationInterface {
  name = 'ImportDeadlockPatience1798200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      DO $$ BEGIN
        EXECUTE 'GRANT SET ON PARAMETER deadlock_timeout TO vrs_app';
      EXCEPTION WHEN insufficient_privilege OR syntax_error OR undefined_object THEN
        RAISE NOTICE 'deadlock_timeout not granted to vrs_app: imports keep the default';
      END $$`);
  }

  async down(): Promise<void> {
    // The grant stays (see above).
  }
}
