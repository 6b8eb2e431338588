import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * analyze_registry() refreshes the planner's statistics of residents and tickets, with the owner's
 * rights: the application role may not ANALYZE tables it does not own (PostgreSQL skips them with a
 * warning). A registry import calls it once it has written many rows, before it commits (ANALYZE
 * counts its own transaction's rows), so that the municipality's next import is not planned as if
 * it had no residents: with statistics from before the first, its checks joined the file with every
 * resident of the municipality once per row of the file, and a 60,000-row file ran for hours.
 * Autovacuum analyzes a table only once a tenth of it has changed, which one municipality's rows
 * never are in a national table.
 *
 * It waits 10 s at most for each table (another import's ANALYZE holds it until that import commits;
 * an ordinary autovacuum gives way after the import's deadlock_timeout of 5 s) and otherwise leaves
 * that table's statistics as they are, answering false: a vacuum against wraparound, which does
 * not give way, may run for hours, and the import's whole transaction would wait with it.
 */
export class RegistryStatistics1800200000000 implements MigrationInterface {
  name = 'RegistryStatistics1800200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION analyze_registry() RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = public, pg_temp SET lock_timeout = '10s' AS $$
      DECLARE
        done boolean := true;
      BEGIN
        BEGIN
          ANALYZE public.resident;
        EXCEPTION WHEN lock_not_available THEN done := false;
        END;
        BEGIN
          ANALYZE public.ticket;
        EXCEPTION WHEN lock_not_available THEN done := false;
        END;
        RETURN done;
      END $$;
      REVOKE EXECUTE ON FUNCTION analyze_registry() FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION analyze_registry() TO vrs_app;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP FUNCTION analyze_registry()');
  }
}
