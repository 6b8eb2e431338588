import { MigrationInterface, QueryRunner } from 'typeorm';
import { TENANT_TABLES } from './1795800000000-row-level-security';

/**
 * The tenant wall reads the transaction's tenant list once per statement instead of once per row.
 *
 * `tenant_visible(code)` was inlined into every policy check, so each row read or written parsed
 * the `vrs.tenants` setting into an array again: a registry import of a million residents and
 * their tickets did that several million times. The policy now compares the code with two
 * uncorrelated subqueries, which PostgreSQL evaluates once per statement; the comparison against
 * an array of codes can also use the tables' indexes, which all lead with the municipality code.
 * An entry of the list that is not six characters long matches nothing, as before.
 */
export class TenantListPerStatement1796200000000 implements MigrationInterface {
  name = 'TenantListPerStatement1796200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION tenant_all() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT coalesce(current_setting('vrs.tenants', true) = '*', false)
      $$;
      CREATE FUNCTION tenant_codes() RETURNS char(6)[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT ARRAY(SELECT code::char(6) FROM unnest(string_to_array(current_setting('vrs.tenants', true), ',')) code
                     WHERE length(code) = 6)
      $$;
    `);
    for (const table of TENANT_TABLES) {
      await db.query(`
        ALTER POLICY ${table}_tenant_wall ON ${table}
          USING ((SELECT tenant_all()) OR municipality_code = ANY ((SELECT tenant_codes())::bpchar[]))
          WITH CHECK ((SELECT tenant_all()) OR municipality_code = ANY ((SELECT tenant_codes())::bpchar[]));
      `);
    }
    await db.query(`DROP FUNCTION tenant_visible(char)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION tenant_visible(code char(6)) RETURNS boolean
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT current_setting('vrs.tenants', true) = '*'
            OR code = ANY (string_to_array(current_setting('vrs.tenants', true), ','))
      $$;
    `);
    for (const table of TENANT_TABLES) {
      await db.query(`
        ALTER POLICY ${table}_tenant_wall ON ${table}
          USING (tenant_visible(municipality_code)) WITH CHECK (tenant_visible(municipality_code));
      `);
    }
    await db.query(`DROP FUNCTION tenant_codes(); DROP FUNCTION tenant_all();`);
  }
}
