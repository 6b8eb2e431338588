import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The check that a ticket's resident exists no longer locks residents written by the checking
 * transaction itself.
 *
 * A resident row version whose xmin is this transaction's own id was inserted by it (no other
 * transaction can see it) or updated by it (another one that deletes or renumbers the resident
 * waits for this one to end), so a KEY SHARE lock on it protects nothing. A registry import of a
 * million new residents with their tickets spent 3–4 s of its merge writing those locks. Residents
 * written by others, or in a subtransaction, are locked as before, and the count of found residents
 * must still reach the count of tickets.
 */
export class TicketResidentOwnRowsUnlocked1796700000000 implements MigrationInterface {
  name = 'TicketResidentOwnRowsUnlocked1796700000000';

  async up(db: QueryRunner): Promise<void> {
    await this.define(db, `
        EXECUTE 'SELECT count(*) FROM resident r JOIN new_rows n ON r.municipality_code = n.municipality_code AND r.id = n.resident_id
                 WHERE r.municipality_code = ANY ($1) AND r.xmin = pg_current_xact_id()::xid' INTO found USING codes;
        IF found < wanted THEN
          EXECUTE 'SELECT count(*) FROM (
                     SELECT FROM resident r JOIN new_rows n ON r.municipality_code = n.municipality_code AND r.id = n.resident_id
                     WHERE r.municipality_code = ANY ($1) AND r.xmin <> pg_current_xact_id()::xid FOR KEY SHARE OF r) l' INTO locked USING codes;
          found := found + locked;
        END IF;`);
  }

  async down(db: QueryRunner): Promise<void> {
    await this.define(db, `
        EXECUTE 'SELECT count(*) FROM (
                   SELECT FROM resident r JOIN new_rows n ON r.municipality_code = n.municipality_code AND r.id = n.resident_id
                   WHERE r.municipality_code = ANY ($1) FOR KEY SHARE OF r) l' INTO found USING codes;`);
  }

  /** `ticket_resident_exists()` around `lookUp`, which counts the tickets' residents into `found`. */
  private async define(db: QueryRunner, lookUp: string): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION ticket_resident_exists() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET vrs.tenants = '*' AS $$
      DECLARE
        codes char(6)[];
        wanted bigint;
        found bigint;
        locked bigint;
      BEGIN
        SELECT array_agg(c), sum(n) INTO codes, wanted FROM (SELECT n.municipality_code AS c, count(*) AS n FROM new_rows n GROUP BY 1) d;
        -- A ticket matches at most one resident (by the resident's key), so the rows found count the
        -- tickets whose resident exists; a resident deleted in the meantime is not locked.
        ${lookUp.trim()}
        IF found < wanted THEN
          RAISE foreign_key_violation USING CONSTRAINT = 'ticket_resident_fk', TABLE = 'ticket',
            MESSAGE = 'a ticket names a resident that does not exist';
        END IF;
        RETURN NULL;
      END $$`);
  }
}
