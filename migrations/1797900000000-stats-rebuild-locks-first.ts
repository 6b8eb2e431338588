import { MigrationInterface, QueryRunner } from 'typeorm';

// Unchanged: stats_rebuild()'s body after its locks (migrations/1795600000000-statistics.ts).
const REBUILD = `
        DELETE FROM stats_dose_delta;
        DELETE FROM stats_population_delta;
        TRUNCATE stats_dose, stats_population;
        -- One pass over the records: the four breakdowns as grouping sets; coverage shares
        -- the dose-number set, counting only ACTIVE residents' records.
        CREATE TEMPORARY TABLE stats_rebuild_municipal ON COMMIT DROP AS
          SELECT v.municipality_code::text AS area, v.vaccinated_on, v.dose_number, v.manufacturer,
                 stats_age_band(p.birth_date, v.vaccinated_on) AS age_band, p.sex,
                 grouping(v.dose_number, v.manufacturer, stats_age_band(p.birth_date, v.vaccinated_on), p.sex) AS set_id,
                 count(*) FILTER (WHERE v.source <> 'INQUIRY') AS given,
                 count(*) FILTER (WHERE p.status = 'ACTIVE') AS covered
          FROM vaccination_record v
          JOIN resident p ON p.municipality_code = v.municipality_code AND p.id = v.resident_id
          WHERE v.status = 'COMPLETED'
          GROUP BY GROUPING SETS (
            (v.municipality_code, v.vaccinated_on, v.dose_number),
            (v.municipality_code, v.vaccinated_on, v.manufacturer),
            (v.municipality_code, v.vaccinated_on, stats_age_band(p.birth_date, v.vaccinated_on)),
            (v.municipality_code, v.vaccinated_on, p.sex));
        INSERT INTO stats_dose (area, dimension, vaccinated_on, category, doses)
        SELECT a.area, c.dimension, m.vaccinated_on, c.category, sum(c.doses)
        FROM stats_rebuild_municipal m
        CROSS JOIN LATERAL (VALUES
          ('D', m.dose_number::text, m.given, m.set_id = 7),
          ('C', m.dose_number::text, m.covered, m.set_id = 7),
          ('M', m.manufacturer, m.given, m.set_id = 11),
          ('A', m.age_band, m.given, m.set_id = 13),
          ('S', m.sex, m.given, m.set_id = 14)) c(dimension, category, doses, applies)
        CROSS JOIN LATERAL stats_areas(m.area) a
        WHERE c.applies AND c.doses > 0
        GROUP BY 1, 2, 3, 4;
        DROP TABLE stats_rebuild_municipal;
        INSERT INTO stats_population (area, birth_year, sex, residents)
        SELECT a.area, m.birth_year, m.sex, sum(m.residents)
        FROM (SELECT municipality_code::text AS area, extract(year FROM birth_date)::smallint AS birth_year, sex, count(*) AS residents
              FROM resident WHERE status = 'ACTIVE' GROUP BY 1, 2, 3) m
        CROSS JOIN LATERAL stats_areas(m.area) a
        GROUP BY 1, 2, 3;
      END
      $$;`;

/**
 * stats_rebuild() takes the summary tables before it touches them. It emptied the delta tables row
 * by row and only then truncated the main ones, so a compaction that started in between held
 * stats_dose while it waited for the delta rows the rebuild had deleted, and the rebuild's TRUNCATE
 * waited for that compaction: a deadlock. It now locks the four tables first, in the order
 * stats_compact() takes them (each delta table before its main table), so a running compaction
 * finishes first and a later one waits for the rebuild to commit. Main tables first would deadlock
 * too: a compaction that has taken stats_dose_delta waits for stats_dose, which the rebuild then
 * holds while it waits for stats_dose_delta.
 */
export class StatsRebuildLocksFirst1797900000000 implements MigrationInterface {
  name = 'StatsRebuildLocksFirst1797900000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        -- Writers wait until the rebuild commits, so no delta is lost or counted twice.
        LOCK TABLE resident, vaccination_record IN SHARE MODE;
        -- Before touching them, and in stats_compact()'s order: a compaction under way finishes
        -- first, one that starts later waits, and neither holds what the other waits for.
        LOCK TABLE stats_dose_delta, stats_dose, stats_population_delta, stats_population IN ACCESS EXCLUSIVE MODE;${REBUILD}
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        -- Writers wait until the rebuild commits, so no delta is lost or counted twice.
        LOCK TABLE resident, vaccination_record IN SHARE MODE;${REBUILD}
    `);
  }
}
