import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A resident's municipality is checked once per statement instead of once per row.
 *
 * The foreign key from `resident` to `municipality` ran one look-up (and one row lock) for every
 * resident written: a registry import of a million new residents spent 5–10 s of its merge on
 * checking, a million times over, the one municipality it imports into. Statement triggers
 * keep the key's meaning:
 * - after residents are inserted or updated, every municipality they name must exist, and is
 *   locked (KEY SHARE, as the key locked it) until the transaction ends, so that it cannot be
 *   deleted or renumbered under them;
 * - after municipalities are deleted or updated, no resident may name a code that no longer
 *   exists. This check sees every tenant (the definer, with the tenant list set to all until it
 *   returns: set in its body, as a function's SET clause may name a setting of our own only
 *   when a superuser creates it, and the migrating user need not be one).
 * Both raise foreign_key_violation (23503) under the old constraint's name.
 */
export class ResidentMunicipalityPerStatement1796300000000 implements MigrationInterface {
  name = 'ResidentMunicipalityPerStatement1796300000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION resident_municipality_exists() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        codes char(6)[];
        locked integer;
        missing char(6);
      BEGIN
        SELECT array_agg(c) INTO codes FROM (SELECT DISTINCT n.municipality_code AS c FROM new_rows n) d;
        SELECT count(*) INTO locked FROM (SELECT FROM municipality m WHERE m.code = ANY (codes) FOR KEY SHARE) l;
        IF locked < cardinality(codes) THEN
          SELECT c INTO missing FROM unnest(codes) c WHERE NOT EXISTS (SELECT FROM municipality m WHERE m.code = c) LIMIT 1;
          RAISE foreign_key_violation USING CONSTRAINT = 'resident_municipality_fk', TABLE = 'resident',
            MESSAGE = format('municipality %s of a resident does not exist', missing);
        END IF;
        RETURN NULL;
      END $$;

      CREATE FUNCTION municipality_residents_remain() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        tenants text := current_setting('vrs.tenants', true);
        gone char(6);
      BEGIN
        PERFORM set_config('vrs.tenants', '*', true);
        SELECT o.code INTO gone FROM old_rows o
          WHERE NOT EXISTS (SELECT FROM municipality m WHERE m.code = o.code)
            AND EXISTS (SELECT FROM resident r WHERE r.municipality_code = o.code) LIMIT 1;
        IF FOUND THEN
          RAISE foreign_key_violation USING CONSTRAINT = 'resident_municipality_fk', TABLE = 'municipality',
            MESSAGE = format('municipality %s still has residents', gone);
        END IF;
        PERFORM set_config('vrs.tenants', tenants, true);
        RETURN NULL;
      END $$;

      ALTER TABLE resident DROP CONSTRAINT resident_municipality_fk;
      CREATE TRIGGER resident_municipality_inserted AFTER INSERT ON resident
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION resident_municipality_exists();
      CREATE TRIGGER resident_municipality_updated AFTER UPDATE ON resident
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION resident_municipality_exists();
      CREATE TRIGGER municipality_deleted AFTER DELETE ON municipality
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION municipality_residents_remain();
      CREATE TRIGGER municipality_updated AFTER UPDATE ON municipality
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION municipality_residents_remain();
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TRIGGER municipality_updated ON municipality;
      DROP TRIGGER municipality_deleted ON municipality;
      DROP TRIGGER resident_municipality_updated ON resident;
      DROP TRIGGER resident_municipality_inserted ON resident;
      ALTER TABLE resident ADD CONSTRAINT resident_municipality_fk FOREIGN KEY (municipality_code) REFERENCES municipality (code);
      DROP FUNCTION municipality_residents_remain();
      DROP FUNCTION resident_municipality_exists();
    `);
  }
}
