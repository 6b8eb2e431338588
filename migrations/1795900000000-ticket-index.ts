import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The partial index of open tickets per resident repeated `ticket_resident_idx`: a resident has a
 * handful of tickets, so the full index answers "open tickets of this resident" as fast, and a
 * registry import no longer maintains a fourth index for every ticket it writes.
 */
export class TicketIndex1795900000000 implements MigrationInterface {
  name = 'TicketIndex1795900000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ticket_open_resident_idx`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX ticket_open_resident_idx ON ticket (municipality_code, resident_id) WHERE voided_on IS NULL`);
  }
}
