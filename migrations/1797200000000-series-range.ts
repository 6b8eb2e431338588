import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The doses a ticket's series covers ("3" or "1-2", the one form series are stored in), as a
 * range: a resident holds at most one open ticket for any dose, so a new ticket's series may not
 * overlap an open one's ("2" beside "1-2" would give two valid tickets for dose 2).
 */
export class SeriesRange1797200000000 implements MigrationInterface {
  name = 'SeriesRange1797200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION series_range(series text) RETURNS int4range LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        RETURN int4range(split_part(series, '-', 1)::int, coalesce(nullif(split_part(series, '-', 2), ''), split_part(series, '-', 1))::int, '[]');
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION series_range(text)`);
  }
}
