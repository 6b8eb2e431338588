import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The doses a ticket's series covers ("3" or "1-2", the one form series are stored in), as a
 * range: a resident holds at most one open ticket for any dose, so a new ticket's series may not
 * overlap an open one's ("2" beside "1-2" would give two valid tickets for dose 2). A series
 * stored in another form (imports once kept the file's text) covers nothing it can be compared
 * by: NULL, never an error that would stop a whole issuance. Not STRICT, so that it is inlined.
 */
export class SeriesRange1797200000000 implements MigrationInterface {
  name = 'SeriesRange1797200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION series_range(series text) RETURNS int4range LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN CASE WHEN series ~ '^[0-9]{1,2}(-[0-9]{1,2})?$' THEN int4range(
          least(split_part(series, '-', 1)::int, coalesce(nullif(split_part(series, '-', 2), ''), split_part(series, '-', 1))::int),
          greatest(split_part(series, '-', 1)::int, coalesce(nullif(split_part(series, '-', 2), ''), split_part(series, '-', 1))::int), '[]') END;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION series_range(text)`);
  }
}
