import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Aggregate statistics kept by triggers in the same transaction as every write to
 * vaccination_record and resident, whatever path made it (tablet, officer, CSV, inquiry).
 *
 * Areas: '00' = the nation, 2 digits = a prefecture, 6 digits = a municipality. Each change is
 * counted at all three levels, so a national or prefectural query reads a few thousand rows
 * instead of the record table.
 *
 * Dimensions of stats_dose (all counts of COMPLETED records, by vaccination date):
 *   D dose number, M manufacturer, A age band at the vaccination date, S sex
 *     — doses administered; INQUIRY copies are left out, the original is counted where it lives;
 *   C dose number, counting only records of ACTIVE residents (any source)
 *     — the numerator of coverage, so that it matches the registered population.
 * stats_population counts ACTIVE residents by birth-year cohort and sex: cohorts never drift,
 * so nothing needs a nightly refresh.
 *
 * Triggers only ever INSERT into the *_delta tables: concurrent writers (many tablets in one
 * city, a CSV import, the national rows every dose touches) never wait on a shared counter row
 * and cannot deadlock on one. stats_compact() folds the deltas into the main tables; readers
 * sum both, so figures are exact at commit whatever the compaction lag.
 */
export class Statistics1795600000000 implements MigrationInterface {
  name = 'Statistics1795600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE stats_dose (
        area varchar(6) NOT NULL,
        dimension char(1) NOT NULL,
        vaccinated_on date NOT NULL,
        category text NOT NULL,
        doses bigint NOT NULL,
        CONSTRAINT stats_dose_pk PRIMARY KEY (area, dimension, vaccinated_on, category),
        CONSTRAINT stats_dose_area_format CHECK (area ~ '^([0-9]{2}|[0-9]{6})$'),
        CONSTRAINT stats_dose_dimension_valid CHECK (dimension IN ('D', 'M', 'A', 'S', 'C'))
      );

      CREATE TABLE stats_dose_delta (
        area varchar(6) NOT NULL,
        dimension char(1) NOT NULL,
        vaccinated_on date NOT NULL,
        category text NOT NULL,
        doses bigint NOT NULL,
        CONSTRAINT stats_dose_delta_area_format CHECK (area ~ '^([0-9]{2}|[0-9]{6})$'),
        CONSTRAINT stats_dose_delta_dimension_valid CHECK (dimension IN ('D', 'M', 'A', 'S', 'C'))
      );
      CREATE INDEX stats_dose_delta_area_idx ON stats_dose_delta (area, dimension, vaccinated_on);

      CREATE TABLE stats_population (
        area varchar(6) NOT NULL,
        birth_year smallint NOT NULL,
        sex text NOT NULL,
        residents bigint NOT NULL,
        CONSTRAINT stats_population_pk PRIMARY KEY (area, birth_year, sex),
        CONSTRAINT stats_population_area_format CHECK (area ~ '^([0-9]{2}|[0-9]{6})$')
      );

      CREATE TABLE stats_population_delta (
        area varchar(6) NOT NULL,
        birth_year smallint NOT NULL,
        sex text NOT NULL,
        residents bigint NOT NULL,
        CONSTRAINT stats_population_delta_area_format CHECK (area ~ '^([0-9]{2}|[0-9]{6})$')
      );
      CREATE INDEX stats_population_delta_area_idx ON stats_population_delta (area);

      -- Ten-year bands, with the sixties split at 65 so that the elderly (65+) can be read off.
      -- Whole years reached by on_date (a 29 February birthday is reached on 1 March).
      CREATE FUNCTION stats_age(birth date, on_date date) RETURNS int
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT (date_part('year', on_date) - date_part('year', birth)
          - CASE WHEN date_part('month', on_date) * 100 + date_part('day', on_date)
                    < date_part('month', birth) * 100 + date_part('day', birth) THEN 1 ELSE 0 END)::int
      $$;
      CREATE FUNCTION stats_age_band_of(age int) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT CASE
          WHEN age >= 90 THEN '90+'
          WHEN age >= 70 THEN (age / 10 * 10) || '-' || (age / 10 * 10 + 9)
          WHEN age >= 65 THEN '65-69'
          WHEN age >= 60 THEN '60-64'
          WHEN age >= 0 THEN (age / 10 * 10) || '-' || (age / 10 * 10 + 9)
          ELSE '0-9' END
      $$;
      CREATE FUNCTION stats_age_band(birth date, on_date date) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT stats_age_band_of(stats_age(birth, on_date))
      $$;

      -- The areas a municipality's figures roll up into.
      CREATE FUNCTION stats_areas(municipality_code text) RETURNS TABLE (area text)
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        VALUES ('00'), (left(municipality_code, 2)), (municipality_code)
      $$;

      -- The cells one COMPLETED record counts in, given its resident's current attributes.
      CREATE FUNCTION stats_dose_cells(source text, dose_number smallint, manufacturer text,
                                       birth date, vaccinated_on date, sex text, active boolean)
        RETURNS TABLE (dimension char(1), category text)
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT d.dimension, d.category FROM (VALUES
          ('D', dose_number::text, source <> 'INQUIRY'),
          ('M', manufacturer, source <> 'INQUIRY'),
          ('A', stats_age_band(birth, vaccinated_on), source <> 'INQUIRY'),
          ('S', sex, source <> 'INQUIRY'),
          ('C', dose_number::text, active)) d(dimension, category, counted)
        WHERE d.counted
      $$;

      -- Statement-level with transition tables: a multi-row insert or a CSV batch costs one
      -- aggregated insert, not one per row.
      CREATE FUNCTION stats_vaccination_record_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO stats_dose_delta (area, dimension, vaccinated_on, category, doses)
          SELECT a.area, c.dimension, r.vaccinated_on, c.category, count(*)
          FROM new_rows r
          JOIN resident p ON p.municipality_code = r.municipality_code AND p.id = r.resident_id
          CROSS JOIN LATERAL stats_areas(r.municipality_code) a
          CROSS JOIN LATERAL stats_dose_cells(r.source, r.dose_number, r.manufacturer, p.birth_date, r.vaccinated_on, p.sex, p.status = 'ACTIVE') c
          WHERE r.status = 'COMPLETED'
          GROUP BY 1, 2, 3, 4;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO stats_dose_delta (area, dimension, vaccinated_on, category, doses)
          SELECT a.area, c.dimension, r.vaccinated_on, c.category, sum(r.sign)
          FROM (SELECT n.*, 1 AS sign FROM new_rows n WHERE n.status = 'COMPLETED'
                UNION ALL SELECT o.*, -1 FROM old_rows o WHERE o.status = 'COMPLETED') r
          JOIN resident p ON p.municipality_code = r.municipality_code AND p.id = r.resident_id
          CROSS JOIN LATERAL stats_areas(r.municipality_code) a
          CROSS JOIN LATERAL stats_dose_cells(r.source, r.dose_number, r.manufacturer, p.birth_date, r.vaccinated_on, p.sex, p.status = 'ACTIVE') c
          GROUP BY 1, 2, 3, 4
          HAVING sum(r.sign) <> 0;
        ELSE
          -- Records removed by a resident's deletion are already subtracted by
          -- stats_resident_deleting(); their resident is gone here, so the join skips them.
          INSERT INTO stats_dose_delta (area, dimension, vaccinated_on, category, doses)
          SELECT a.area, c.dimension, r.vaccinated_on, c.category, -count(*)
          FROM old_rows r
          JOIN resident p ON p.municipality_code = r.municipality_code AND p.id = r.resident_id
          CROSS JOIN LATERAL stats_areas(r.municipality_code) a
          CROSS JOIN LATERAL stats_dose_cells(r.source, r.dose_number, r.manufacturer, p.birth_date, r.vaccinated_on, p.sex, p.status = 'ACTIVE') c
          WHERE r.status = 'COMPLETED'
          GROUP BY 1, 2, 3, 4;
        END IF;
        RETURN NULL;
      END
      $$;

      CREATE TRIGGER stats_vaccination_record_inserted AFTER INSERT ON vaccination_record
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_vaccination_record_changed();
      CREATE TRIGGER stats_vaccination_record_updated AFTER UPDATE ON vaccination_record
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_vaccination_record_changed();
      CREATE TRIGGER stats_vaccination_record_deleted AFTER DELETE ON vaccination_record
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_vaccination_record_changed();

      -- Population, and the dose cells that depend on the resident: age band and sex of
      -- every dose, and whether the resident's doses count towards coverage (ACTIVE only).
      CREATE FUNCTION stats_resident_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO stats_population_delta (area, birth_year, sex, residents)
          SELECT a.area, extract(year FROM n.birth_date)::smallint, n.sex, count(*)
          FROM new_rows n CROSS JOIN LATERAL stats_areas(n.municipality_code) a
          WHERE n.status = 'ACTIVE'
          GROUP BY 1, 2, 3;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO stats_population_delta (area, birth_year, sex, residents)
          SELECT a.area, extract(year FROM r.birth_date)::smallint, r.sex, sum(r.sign)
          FROM (SELECT n.municipality_code, n.birth_date, n.sex, 1 AS sign FROM new_rows n WHERE n.status = 'ACTIVE'
                UNION ALL SELECT o.municipality_code, o.birth_date, o.sex, -1 FROM old_rows o WHERE o.status = 'ACTIVE') r
          CROSS JOIN LATERAL stats_areas(r.municipality_code) a
          GROUP BY 1, 2, 3
          HAVING sum(r.sign) <> 0;

          INSERT INTO stats_dose_delta (area, dimension, vaccinated_on, category, doses)
          SELECT a.area, c.dimension, v.vaccinated_on, c.category, sum(p.sign)
          FROM (SELECT n.municipality_code, n.id, n.birth_date, n.sex, n.status, 1 AS sign
                  FROM new_rows n JOIN old_rows o USING (municipality_code, id)
                  WHERE (n.birth_date, n.sex, n.status = 'ACTIVE') IS DISTINCT FROM (o.birth_date, o.sex, o.status = 'ACTIVE')
                UNION ALL
                SELECT o.municipality_code, o.id, o.birth_date, o.sex, o.status, -1
                  FROM old_rows o JOIN new_rows n USING (municipality_code, id)
                  WHERE (n.birth_date, n.sex, n.status = 'ACTIVE') IS DISTINCT FROM (o.birth_date, o.sex, o.status = 'ACTIVE')) p
          JOIN vaccination_record v ON v.municipality_code = p.municipality_code AND v.resident_id = p.id AND v.status = 'COMPLETED'
          CROSS JOIN LATERAL stats_areas(v.municipality_code) a
          CROSS JOIN LATERAL stats_dose_cells(v.source, v.dose_number, v.manufacturer, p.birth_date, v.vaccinated_on, p.sex, p.status = 'ACTIVE') c
          GROUP BY 1, 2, 3, 4
          HAVING sum(p.sign) <> 0;
        ELSE
          INSERT INTO stats_population_delta (area, birth_year, sex, residents)
          SELECT a.area, extract(year FROM o.birth_date)::smallint, o.sex, -count(*)
          FROM old_rows o CROSS JOIN LATERAL stats_areas(o.municipality_code) a
          WHERE o.status = 'ACTIVE'
          GROUP BY 1, 2, 3;
        END IF;
        RETURN NULL;
      END
      $$;

      CREATE TRIGGER stats_resident_inserted AFTER INSERT ON resident
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_resident_changed();
      CREATE TRIGGER stats_resident_updated AFTER UPDATE ON resident
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_resident_changed();
      CREATE TRIGGER stats_resident_deleted AFTER DELETE ON resident
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_resident_changed();

      -- A resident's deletion cascades to its records, whose age band and sex are known only
      -- while the resident still exists: subtract them before the row goes.
      CREATE FUNCTION stats_resident_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO stats_dose_delta (area, dimension, vaccinated_on, category, doses)
        SELECT a.area, c.dimension, v.vaccinated_on, c.category, -count(*)
        FROM vaccination_record v
        CROSS JOIN LATERAL stats_areas(v.municipality_code) a
        CROSS JOIN LATERAL stats_dose_cells(v.source, v.dose_number, v.manufacturer, OLD.birth_date, v.vaccinated_on, OLD.sex, OLD.status = 'ACTIVE') c
        WHERE v.municipality_code = OLD.municipality_code AND v.resident_id = OLD.id AND v.status = 'COMPLETED'
        GROUP BY 1, 2, 3, 4;
        RETURN OLD;
      END
      $$;
      CREATE TRIGGER stats_resident_deleting BEFORE DELETE ON resident
        FOR EACH ROW EXECUTE FUNCTION stats_resident_deleting();

      -- Folds the deltas into the main tables. Concurrent runs are safe: a delta row is deleted
      -- (and so counted) by exactly one of them. Returns the number of delta rows folded.
      CREATE FUNCTION stats_compact() RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        folded bigint;
        folded_population bigint;
      BEGIN
        WITH moved AS (DELETE FROM stats_dose_delta RETURNING *),
        summed AS (
          INSERT INTO stats_dose AS s (area, dimension, vaccinated_on, category, doses)
          SELECT area, dimension, vaccinated_on, category, sum(doses) FROM moved GROUP BY 1, 2, 3, 4
          ON CONFLICT (area, dimension, vaccinated_on, category) DO UPDATE SET doses = s.doses + excluded.doses
          RETURNING 1)
        SELECT count(*) INTO folded FROM moved;
        WITH moved AS (DELETE FROM stats_population_delta RETURNING *),
        summed AS (
          INSERT INTO stats_population AS s (area, birth_year, sex, residents)
          SELECT area, birth_year, sex, sum(residents) FROM moved GROUP BY 1, 2, 3
          ON CONFLICT (area, birth_year, sex) DO UPDATE SET residents = s.residents + excluded.residents
          RETURNING 1)
        SELECT count(*) INTO folded_population FROM moved;
        RETURN folded + folded_population;
      END
      $$;

      -- Recomputes every figure from the source tables in one pass (after a bulk load with
      -- triggers disabled, or to check the incremental figures).
      CREATE FUNCTION stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        -- Writers wait until the rebuild commits, so no delta is lost or counted twice.
        LOCK TABLE resident, vaccination_record IN SHARE MODE;
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
      $$;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TRIGGER stats_resident_deleting ON resident;
      DROP TRIGGER stats_resident_deleted ON resident;
      DROP TRIGGER stats_resident_updated ON resident;
      DROP TRIGGER stats_resident_inserted ON resident;
      DROP TRIGGER stats_vaccination_record_deleted ON vaccination_record;
      DROP TRIGGER stats_vaccination_record_updated ON vaccination_record;
      DROP TRIGGER stats_vaccination_record_inserted ON vaccination_record;
      DROP FUNCTION stats_rebuild();
      DROP FUNCTION stats_compact();
      DROP FUNCTION stats_resident_deleting();
      DROP FUNCTION stats_resident_changed();
      DROP FUNCTION stats_vaccination_record_changed();
      DROP FUNCTION stats_dose_cells(text, smallint, text, date, date, text, boolean);
      DROP FUNCTION stats_areas(text);
      DROP FUNCTION stats_age_band(date, date);
      DROP FUNCTION stats_age_band_of(int);
      DROP FUNCTION stats_age(date, date);
      DROP TABLE stats_population_delta;
      DROP TABLE stats_population;
      DROP TABLE stats_dose_delta;
      DROP TABLE stats_dose;
    `);
  }
}
