import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * stats_rebuild() counts every municipality's residents and records, whoever runs it. Run by a
 * database owner that is no superuser (a managed PostgreSQL's), row-level security showed it the
 * tenants of the session's `vrs.tenants`, none unless set, and the rebuild emptied the summary
 * tables and filled them from nothing: every figure 0 until the next dose. It now sets the tenant
 * list to all for its own work and puts the caller's back. In its body, as a function's SET
 * clause may name a setting of our own only when a superuser creates the function: the rebuild
 * itself moves to stats_rebuild_tables(), unchanged, and stats_rebuild() wraps it.
 */
export class StatsRebuildEveryTenant1799980000000 implements MigrationInterface {
  name = 'StatsRebuildEveryTenant1799980000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER FUNCTION stats_rebuild() RENAME TO stats_rebuild_tables;
      CREATE FUNCTION stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        tenants text := current_setting('vrs.tenants', true);
      BEGIN
        PERFORM set_config('vrs.tenants', '*', true);
        PERFORM stats_rebuild_tables();
        PERFORM set_config('vrs.tenants', tenants, true);
      END $$;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP FUNCTION stats_rebuild();
      ALTER FUNCTION stats_rebuild_tables() RENAME TO stats_rebuild;
    `);
  }
}
