import { MigrationInterface, QueryRunner } from 'typeorm';

// Unchanged: a resident's changed age band, sex or status moves the doses counted under it.
const DOSES_ON_UPDATE = `
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
          HAVING sum(p.sign) <> 0;`;

/**
 * The population trigger counts residents per municipality, birth year and sex first, and only
 * then spreads each count over its areas (nation, prefecture, municipality). It spread every row
 * over its three areas before counting, so a registry import of a million residents grouped three
 * million rows where a few hundred groups suffice. The dose part of the update branch is unchanged.
 */
export class PopulationByGroup1796100000000 implements MigrationInterface {
  name = 'PopulationByGroup1796100000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION stats_resident_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO stats_population_delta (area, birth_year, sex, residents)
          SELECT a.area, g.birth_year, g.sex, sum(g.residents)
          FROM (SELECT n.municipality_code, extract(year FROM n.birth_date)::smallint AS birth_year, n.sex, count(*) AS residents
                FROM new_rows n WHERE n.status = 'ACTIVE' GROUP BY 1, 2, 3) g
          CROSS JOIN LATERAL stats_areas(g.municipality_code) a
          GROUP BY 1, 2, 3;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO stats_population_delta (area, birth_year, sex, residents)
          SELECT a.area, g.birth_year, g.sex, sum(g.residents)
          FROM (SELECT r.municipality_code, extract(year FROM r.birth_date)::smallint AS birth_year, r.sex, sum(r.sign) AS residents
                FROM (SELECT n.municipality_code, n.birth_date, n.sex, 1 AS sign FROM new_rows n WHERE n.status = 'ACTIVE'
                      UNION ALL SELECT o.municipality_code, o.birth_date, o.sex, -1 FROM old_rows o WHERE o.status = 'ACTIVE') r
                GROUP BY 1, 2, 3) g
          CROSS JOIN LATERAL stats_areas(g.municipality_code) a
          GROUP BY 1, 2, 3
          HAVING sum(g.residents) <> 0;

${DOSES_ON_UPDATE}
        ELSE
          INSERT INTO stats_population_delta (area, birth_year, sex, residents)
          SELECT a.area, g.birth_year, g.sex, -sum(g.residents)
          FROM (SELECT o.municipality_code, extract(year FROM o.birth_date)::smallint AS birth_year, o.sex, count(*) AS residents
                FROM old_rows o WHERE o.status = 'ACTIVE' GROUP BY 1, 2, 3) g
          CROSS JOIN LATERAL stats_areas(g.municipality_code) a
          GROUP BY 1, 2, 3;
        END IF;
        RETURN NULL;
      END
      $$;
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION stats_resident_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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

${DOSES_ON_UPDATE}
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
    `);
  }
}
