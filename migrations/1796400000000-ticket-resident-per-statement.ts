import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A ticket's resident is checked once per statement instead of once per row.
 *
 * The foreign key from `ticket` to `resident` ran one look-up and one row lock per ticket: a
 * registry import of a million new residents with their tickets spent 8–13 s of its merge on it.
 * Statement triggers keep the key's meaning:
 * - after tickets are inserted or updated, every resident they name must exist, and is locked
 *   (KEY SHARE, as the key locked it) until the transaction ends, so that it cannot be deleted or
 *   renumbered under them; one statement locks them all;
 * - deleting residents deletes their tickets (the key's ON DELETE CASCADE);
 * - a resident whose key changes may not leave tickets behind.
 * Errors are foreign_key_violation (23503) under the old constraint's name. The functions see
 * every tenant, as the key did: each sets the tenant list to all and puts it back before it
 * returns (in its body, as a function's SET clause may name a setting of our own only when a
 * superuser creates the function, and the migrating user need not be one). They plan their
 * statements afresh each time (EXECUTE), because the transition tables hold one row or a million
 * and the plan must follow, and name the municipalities involved, so that even a million rows are
 * looked up within their own tenants rather than by reading every tenant's tickets or residents.
 */
export class TicketResidentPerStatement1796400000000 implements MigrationInterface {
  name = 'TicketResidentPerStatement1796400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION ticket_resident_exists() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        tenants text := current_setting('vrs.tenants', true);
        codes char(6)[];
        wanted bigint;
        locked bigint;
      BEGIN
        PERFORM set_config('vrs.tenants', '*', true);
        SELECT array_agg(c), sum(n) INTO codes, wanted FROM (SELECT n.municipality_code AS c, count(*) AS n FROM new_rows n GROUP BY 1) d;
        -- A ticket matches at most one resident (by the resident's key), so the rows locked count the
        -- tickets whose resident exists; a resident deleted in the meantime is not locked.
        EXECUTE 'SELECT count(*) FROM (
                   SELECT FROM resident r JOIN new_rows n ON r.municipality_code = n.municipality_code AND r.id = n.resident_id
                   WHERE r.municipality_code = ANY ($1) FOR KEY SHARE OF r) l' INTO locked USING codes;
        IF locked < wanted THEN
          RAISE foreign_key_violation USING CONSTRAINT = 'ticket_resident_fk', TABLE = 'ticket',
            MESSAGE = 'a ticket names a resident that does not exist';
        END IF;
        PERFORM set_config('vrs.tenants', tenants, true);
        RETURN NULL;
      END $$;

      CREATE FUNCTION resident_tickets_deleted() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        tenants text := current_setting('vrs.tenants', true);
        codes char(6)[];
      BEGIN
        PERFORM set_config('vrs.tenants', '*', true);
        SELECT array_agg(c) INTO codes FROM (SELECT DISTINCT o.municipality_code AS c FROM old_rows o) d;
        EXECUTE 'DELETE FROM ticket t USING old_rows o
                 WHERE t.municipality_code = ANY ($1) AND t.municipality_code = o.municipality_code AND t.resident_id = o.id' USING codes;
        PERFORM set_config('vrs.tenants', tenants, true);
        RETURN NULL;
      END $$;

      CREATE FUNCTION resident_tickets_kept() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
      DECLARE
        tenants text := current_setting('vrs.tenants', true);
        codes char(6)[];
        orphaned boolean;
      BEGIN
        PERFORM set_config('vrs.tenants', '*', true);
        EXECUTE 'SELECT array_agg(DISTINCT o.municipality_code) FROM old_rows o
                 WHERE NOT EXISTS (SELECT FROM new_rows n WHERE n.municipality_code = o.municipality_code AND n.id = o.id)' INTO codes;
        IF codes IS NULL THEN
          PERFORM set_config('vrs.tenants', tenants, true);
          RETURN NULL;
        END IF;
        EXECUTE 'SELECT EXISTS (SELECT FROM old_rows o JOIN ticket t ON t.municipality_code = o.municipality_code AND t.resident_id = o.id
                   WHERE t.municipality_code = ANY ($1)
                     AND NOT EXISTS (SELECT FROM new_rows n WHERE n.municipality_code = o.municipality_code AND n.id = o.id))'
          INTO orphaned USING codes;
        IF orphaned THEN
          RAISE foreign_key_violation USING CONSTRAINT = 'ticket_resident_fk', TABLE = 'resident',
            MESSAGE = 'a resident whose tickets remain cannot change its key';
        END IF;
        PERFORM set_config('vrs.tenants', tenants, true);
        RETURN NULL;
      END $$;

      ALTER TABLE ticket DROP CONSTRAINT ticket_resident_fk;
      CREATE TRIGGER ticket_resident_inserted AFTER INSERT ON ticket
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ticket_resident_exists();
      CREATE TRIGGER ticket_resident_updated AFTER UPDATE ON ticket
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ticket_resident_exists();
      CREATE TRIGGER resident_tickets_deleted AFTER DELETE ON resident
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION resident_tickets_deleted();
      CREATE TRIGGER resident_tickets_kept AFTER UPDATE ON resident
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION resident_tickets_kept();
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TRIGGER resident_tickets_kept ON resident;
      DROP TRIGGER resident_tickets_deleted ON resident;
      DROP TRIGGER ticket_resident_updated ON ticket;
      DROP TRIGGER ticket_resident_inserted ON ticket;
      ALTER TABLE ticket ADD CONSTRAINT ticket_resident_fk FOREIGN KEY (municipality_code, resident_id)
        REFERENCES resident (municipality_code, id) ON DELETE CASCADE;
      DROP FUNCTION resident_tickets_kept();
      DROP FUNCTION resident_tickets_deleted();
      DROP FUNCTION ticket_resident_exists();
    `);
  }
}
