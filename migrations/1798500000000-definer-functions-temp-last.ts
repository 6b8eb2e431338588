import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every function that runs with its owner's rights (SECURITY DEFINER: the operation log's link,
 * the checks that stand for foreign keys) searches the session's temporary tables last.
 *
 * Declared with `search_path = public`, they still looked in the session's temporary schema first,
 * as PostgreSQL does whenever pg_temp is not named. The application role may create temporary
 * tables (the import stages its rows in them), so a session of `vrs_app` could make its own
 * `audit_chain` or `resident` and have the owner's function, past row-level security and the
 * log's grants, link events to a head of its choosing or accept a ticket for a resident that does
 * not exist. Named last, pg_temp is searched after public, where every table these functions read
 * exists. The functions are taken from the catalogue rather than by name, so none is left out.
 */
export class DefinerFunctionsTempLast1798500000000 implements MigrationInterface {
  name = 'DefinerFunctionsTempLast1798500000000';

  async up(db: QueryRunner): Promise<void> {
    await setDefinersSearchPath(db, 'public, pg_temp');
  }

  async down(db: QueryRunner): Promise<void> {
    await setDefinersSearchPath(db, 'public');
  }
}

async function setDefinersSearchPath(db: QueryRunner, path: string): Promise<void> {
  await db.query(`
    DO $$
    DECLARE
      f regprocedure;
    BEGIN
      FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = ${path}', f);
      END LOOP;
    END $$`);
}
