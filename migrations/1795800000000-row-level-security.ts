import { MigrationInterface, QueryRunner } from 'typeorm';

/** Tables holding a municipality's personal data; each gets the tenant wall below. */
export const TENANT_TABLES = ['resident', 'ticket', 'vaccination_record', 'pending_dose'];

/**
 * A second wall behind the policy: the application works as the non-owner role `vrs_app`, and
 * every tenant table lets it see and write only the municipalities listed in the transaction
 * setting `vrs.tenants` (set from the authenticated actor; '*' only for operator tools). An
 * unscoped query in a buggy resolver therefore still returns no other municipality's row.
 * The operation log is append-only for `vrs_app` by grants as well as by triggers.
 */
export class RowLevelSecurity1795800000000 implements MigrationInterface {
  name = 'RowLevelSecurity1795800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vrs_app') THEN
          CREATE ROLE vrs_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
        END IF;
      END $$;
      -- A member already (the role made and granted beforehand) may not grant it again without
      -- the ADMIN option, which it does not need.
      DO $$ BEGIN
        IF NOT pg_has_role(current_user, 'vrs_app', 'SET') THEN
          EXECUTE format('GRANT vrs_app TO %I', current_user);
        END IF;
      END $$;

      GRANT USAGE ON SCHEMA public TO vrs_app;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO vrs_app;
      GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO vrs_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO vrs_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO vrs_app;

      -- The operation log: the application appends; only the owner's archive job moves rows.
      REVOKE UPDATE, DELETE, TRUNCATE ON audit_event, audit_event_archive FROM vrs_app;
      REVOKE INSERT ON audit_event_archive FROM vrs_app;
      REVOKE ALL ON audit_chain FROM vrs_app;
      ALTER FUNCTION audit_event_link() SECURITY DEFINER SET search_path = public;
      REVOKE EXECUTE ON FUNCTION archive_audit_events(timestamptz, text) FROM PUBLIC;

      CREATE FUNCTION tenant_visible(code char(6)) RETURNS boolean
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT current_setting('vrs.tenants', true) = '*'
            OR code = ANY (string_to_array(current_setting('vrs.tenants', true), ','))
      $$;
    `);
    for (const table of TENANT_TABLES) {
      await db.query(`
        ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY ${table}_tenant_wall ON ${table} TO vrs_app
          USING (tenant_visible(municipality_code)) WITH CHECK (tenant_visible(municipality_code));
      `);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of TENANT_TABLES) {
      await db.query(`
        DROP POLICY ${table}_tenant_wall ON ${table};
        ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY;
      `);
    }
    await db.query(`
      DROP FUNCTION tenant_visible(char);
      ALTER FUNCTION audit_event_link() SECURITY INVOKER RESET search_path;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM vrs_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM vrs_app;
      REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM vrs_app;
      REVOKE ALL ON ALL TABLES IN SCHEMA public FROM vrs_app;
      REVOKE USAGE ON SCHEMA public FROM vrs_app;
    `);
  }
}
