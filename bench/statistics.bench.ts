import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { startApp } from '../src/app';
import { Config } from '../src/config';
import { createDataSource, migrate } from '../src/db/data-source';
import { EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { syncReferenceData } from '../src/db/reference-data';
import { Role } from '../src/schema/enums';

/**
 * `npm run bench:stats`: statistics queries through the GraphQL endpoint at national volume,
 * against the same figures computed by a direct GROUP BY over the record table in the same run.
 *
 * Data: ≥ 10 million dose records for 3 million residents of the 225 municipalities of
 * Hokkaido (01) and Aomori (02), generated in SQL. The prefecture series is Hokkaido's, the
 * prefecture with the most municipalities (185 in the national list), as the worst case for a prefectural query.
 * Loaded once into .data/bench-pg (or DATABASE_URL, which needs a superuser for the bulk load)
 * with triggers off, then the summary tables are built in bulk and checked once against a
 * GROUP BY. Later runs reuse the data.
 */
const RESIDENTS = Number(process.env.BENCH_RESIDENTS ?? 3_000_000);
// Both cores load at once, each a slice of the residents.
const LOAD_SLICES = 2;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const BASELINE_ITERATIONS = Number(process.env.BENCH_BASELINE_ITERATIONS ?? 5);
const PREFECTURES = ['01', '02'];
const SERIES_PREFECTURE = '01';

const seconds = (start: bigint) => `${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1)} s`;

async function step<T>(label: string, run: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  process.stdout.write(`  ${label} ... `);
  const result = await run();
  console.log(seconds(start));
  return result;
}

async function load(db: DataSource): Promise<void> {
  const [{ loaded }] = await db.query(`SELECT to_regclass('bench_loaded') IS NOT NULL AS loaded`);
  if (loaded) {
    const [{ residents }] = await db.query('SELECT residents FROM bench_loaded');
    if (Number(residents) === RESIDENTS) return;
    throw new Error('.data/bench-pg holds data of another size: delete it to reload');
  }
  const [partial] = await db.query(`SELECT 1 FROM resident WHERE addressee_number LIKE 'B%' LIMIT 1`);
  if (partial) throw new Error('.data/bench-pg holds an interrupted load: delete it to reload');
  console.log(`Loading ${RESIDENTS.toLocaleString()} residents and their dose records (once):`);
  // Bulk load: no per-row triggers or foreign-key checks; the summaries are built afterwards.
  const bulk = async (sql: string, params: unknown[]) => {
    const runner = db.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SET session_replication_role = replica');
      await runner.query('SET synchronous_commit = off');
      await runner.query(sql, params);
    } finally {
      await runner.query('RESET session_replication_role');
      await runner.release();
    }
  };
  // Secondary indexes are rebuilt once after the load rather than maintained row by row; their
  // definitions are read from the catalogue, so they come back exactly as the migrations made them.
  const indexes: { name: string; definition: string }[] = await db.query(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relname IN ('resident', 'vaccination_record')
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`,
  );
  for (const index of indexes) await db.query(`DROP INDEX ${index.name}`);
  const slices = Array.from({ length: LOAD_SLICES }, (_, k) => [Math.floor((k * RESIDENTS) / LOAD_SLICES) + 1, Math.floor(((k + 1) * RESIDENTS) / LOAD_SLICES)]);
  await step('residents', () =>
    Promise.all(slices.map(([first, last]) =>
      bulk(
        `WITH m AS (SELECT array_agg(code ORDER BY code) AS codes FROM municipality WHERE prefecture_code = ANY($3))
         INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version,
           family_name, given_name, family_name_kana, given_name_kana, birth_date, sex, status, moved_out_on, deceased_on)
         SELECT m.codes[1 + (i * 7919) % cardinality(m.codes)], lpad(to_hex(i), 32, '0')::uuid, 'B' || i, '\\x00'::bytea,
           decode(lpad(to_hex(i), 64, '0'), 'hex'), 1, 'ベンチ', '太郎', 'ベンチ', 'タロウ',
           date '1925-01-01' + ((i * 2654435761) % 32000)::int, CASE WHEN i % 2 = 0 THEN 'MALE' ELSE 'FEMALE' END,
           CASE WHEN i % 50 = 0 THEN 'MOVED_OUT' WHEN i % 71 = 0 THEN 'DECEASED' ELSE 'ACTIVE' END,
           CASE WHEN i % 50 = 0 THEN date '2022-04-01' END, CASE WHEN i % 50 <> 0 AND i % 71 = 0 THEN date '2022-05-01' END
         FROM m, generate_series($1::bigint, $2::bigint) i`,
        [first, last, PREFECTURES],
      ))),
  );
  // 0 to 5 doses per resident (3.5 on average), 24 days to 26 months apart, from four
  // manufacturers; 2 % arrived by inquiry, and 1 % of residents have a superseded dose 1.
  await step('dose records', () =>
    Promise.all(slices.map(([first, last]) =>
      bulk(
        `INSERT INTO vaccination_record (municipality_code, id, resident_id, dose_number, vaccinated_on, vaccine_code,
           manufacturer, product, lot_number, site_municipality_code, source, status, status_reason, status_changed_at)
         SELECT r.municipality_code, lpad(to_hex(x.i * 8 + n), 32, '0')::uuid, r.id, n,
           date '2021-03-01' + ((x.i * 40503) % 240)::int + (ARRAY[0, 24, 250, 420, 600, 780])[n],
           'V' || (x.i + n) % 4, (ARRAY['Pfizer', 'Moderna', 'AstraZeneca', 'Takeda'])[1 + (x.i + n) % 4], 'Product', 'LOT1',
           r.municipality_code, CASE WHEN x.i % 50 = 1 THEN 'INQUIRY' ELSE 'TABLET' END, 'COMPLETED', NULL, NULL
         FROM resident r
         CROSS JOIN LATERAL (SELECT substr(r.addressee_number, 2)::bigint AS i) x
         CROSS JOIN LATERAL generate_series(1, (ARRAY[1, 2, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 4, 4, 3, 3, 2, 0])[1 + (x.i * 31) % 20]) n
         WHERE r.addressee_number LIKE 'B%' AND x.i BETWEEN $1 AND $2
         UNION ALL
         SELECT r.municipality_code, lpad(to_hex(x.i * 8 + 7), 32, '0')::uuid, r.id, 1, date '2021-03-01', 'V0', 'Pfizer',
           'Product', 'LOT1', r.municipality_code, 'OFFICER', 'SUPERSEDED', 'corrected', now()
         FROM resident r CROSS JOIN LATERAL (SELECT substr(r.addressee_number, 2)::bigint AS i) x
         WHERE r.addressee_number LIKE 'B%' AND x.i BETWEEN $1 AND $2 AND x.i % 100 = 3`,
        [first, last],
      ))),
  );
  await step(`indexes (${indexes.map((i) => i.name).join(', ')})`, () =>
    Promise.all(indexes.map(async (index) => {
      const runner = db.createQueryRunner();
      await runner.connect();
      try {
        await runner.query(`SET maintenance_work_mem = '512MB'`);
        await runner.query(index.definition);
      } finally {
        await runner.release();
      }
    })),
  );
  await step('analyze', () => db.query('ANALYZE resident; ANALYZE vaccination_record'));
  await step('summary tables in bulk (stats_rebuild)', () =>
    db.transaction(async (tx) => {
      await tx.query(`SET LOCAL work_mem = '512MB'`);
      await tx.query('SELECT stats_rebuild()');
    }),
  );
  await db.query('ANALYZE stats_dose; ANALYZE stats_population');
  await step('check summaries against a GROUP BY', () => verify(db));
  await db.query('CREATE TABLE bench_loaded AS SELECT $1::bigint AS residents', [RESIDENTS]);
}

/** The bulk-built summaries equal GROUP BYs over the source rows, cell by cell, at every level. */
async function verify(db: DataSource): Promise<void> {
  const checks: [string, string][] = [
    [
      'doses by municipality, day and dose number',
      `SELECT v.municipality_code::text AS area, v.vaccinated_on, v.dose_number::text AS category, count(*) AS n
       FROM vaccination_record v WHERE v.status = 'COMPLETED' AND v.source <> 'INQUIRY' GROUP BY 1, 2, 3
       EXCEPT SELECT area, vaccinated_on, category, doses FROM stats_dose WHERE dimension = 'D' AND length(area) = 6`,
    ],
    [
      'national doses by day and dose number',
      `SELECT v.vaccinated_on, v.dose_number::text AS category, count(*) AS n
       FROM vaccination_record v WHERE v.status = 'COMPLETED' AND v.source <> 'INQUIRY' GROUP BY 1, 2
       EXCEPT SELECT vaccinated_on, category, doses FROM stats_dose WHERE dimension = 'D' AND area = '00'`,
    ],
    [
      'coverage numerators by prefecture',
      `SELECT left(v.municipality_code, 2) AS area, v.dose_number::text, count(*) FROM vaccination_record v
       JOIN resident p ON p.municipality_code = v.municipality_code AND p.id = v.resident_id
       WHERE v.status = 'COMPLETED' AND p.status = 'ACTIVE' GROUP BY 1, 2
       EXCEPT SELECT area::text, category, sum(doses) FROM stats_dose WHERE dimension = 'C' AND length(area) = 2 GROUP BY 1, 2`,
    ],
    [
      'registered population by municipality',
      `SELECT municipality_code::text, count(*) FROM resident WHERE status = 'ACTIVE' GROUP BY 1
       EXCEPT SELECT area, sum(residents) FROM stats_population WHERE length(area) = 6 GROUP BY 1`,
    ],
  ];
  for (const [name, sql] of checks) {
    const differences = await db.query(sql);
    if (differences.length > 0) throw new Error(`summary differs from GROUP BY (${name}): ${JSON.stringify(differences.slice(0, 3))}`);
  }
  const [{ records }] = await db.query('SELECT count(*) AS records FROM vaccination_record');
  const [{ municipalities }] = await db.query('SELECT count(DISTINCT municipality_code) AS municipalities FROM resident');
  process.stdout.write(`(${Number(records).toLocaleString()} records, ${municipalities} municipalities, all equal) `);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function time(iterations: number, run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await run();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

const NATIONAL_COVERAGE = `{ statistics(scope: { kind: NATION }) {
  registeredPopulation { value suppressed } coverage { doseNumber people { value suppressed } ratio } } }`;
const PREFECTURE_SERIES = `{ statistics(scope: { kind: PREFECTURE, code: "${SERIES_PREFECTURE}" }) {
  dosesByDay { dates counts countsSuppressed cumulative cumulativeSuppressed } } }`;
const BASELINE_COVERAGE = [
  `SELECT v.dose_number, count(*) AS people FROM vaccination_record v
   JOIN resident p ON p.municipality_code = v.municipality_code AND p.id = v.resident_id
   WHERE v.status = 'COMPLETED' AND p.status = 'ACTIVE' GROUP BY 1 ORDER BY 1`,
  `SELECT count(*) AS population FROM resident WHERE status = 'ACTIVE'`,
];
const BASELINE_SERIES = `SELECT to_char(vaccinated_on, 'YYYY-MM-DD') AS date, count(*) AS n FROM vaccination_record
  WHERE municipality_code >= '${SERIES_PREFECTURE}' AND municipality_code < '${String(Number(SERIES_PREFECTURE) + 1).padStart(2, '0')}'
    AND status = 'COMPLETED' AND source <> 'INQUIRY' GROUP BY 1 ORDER BY 1`;

async function main(): Promise<void> {
  const total = process.hrtime.bigint();
  let embedded: EmbeddedDatabase | undefined;
  let url = process.env.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres(path.resolve('.data/bench-pg'), await freePort(), { persistent: true });
    url = embedded.url;
  }
  const db = createDataSource(url, { poolSize: 10 });
  await db.initialize();
  try {
    await db.query(`ALTER SYSTEM SET max_wal_size = '8GB'`).then(() => db.query('SELECT pg_reload_conf()')).catch(() => undefined);
    await migrate(db);
    await syncReferenceData(db);
    await load(db);

    const config: Config = {
      internetPort: 0, lgwanPort: 0, host: '127.0.0.1', lgwanHost: '127.0.0.1', databaseUrl: url, dataDir: '.data', embeddedPgPort: 0,
      masterKey: randomBytes(32), tokenSecret: randomBytes(32), tokenTtlSeconds: 900, maxFailedLogins: 5, lockoutMinutes: 30,
      production: false, statisticsCompactSeconds: 0,
    };
    // The server works as the non-owner role under row-level security, as in production.
    const appDb = createDataSource(url, { poolSize: 10, asApp: true });
    await appDb.initialize();
    const app = await startApp(config, appDb);
    try {
      const url = `${app.listeners.lgwanUrl}/graphql`;
      const token = async (role: Role, scope: { prefectureCode?: string }) => {
        const loginId = `bench-${role.toLowerCase()}-${Date.now()}`;
        const password = randomBytes(12).toString('hex');
        await app.services.accounts.create({ requestId: 'bench', channel: 'CLI', actor: null }, { loginId, password, role, displayName: loginId, ...scope }, { chosenByHolder: true });
        const body = await gql(url, 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { accessToken } }', undefined, { l: loginId, p: password });
        return body.data.login.accessToken as string;
      };
      const national = await token(Role.NATIONAL, {});
      const prefecture = await token(Role.PREFECTURE, { prefectureCode: SERIES_PREFECTURE });

      // The API answers what the GROUP BY answers.
      const coverage = (await gql(url, NATIONAL_COVERAGE, national)).data.statistics;
      const [people, [{ population }]] = [await db.query(BASELINE_COVERAGE[0]), await db.query(BASELINE_COVERAGE[1])];
      const expectedCoverage = people.map((p: { dose_number: number; people: string }) => [p.dose_number, Number(p.people)]);
      const gotCoverage = coverage.coverage.map((c: { doseNumber: number; people: { value: number } }) => [c.doseNumber, c.people.value]);
      if (JSON.stringify(gotCoverage) !== JSON.stringify(expectedCoverage) || coverage.registeredPopulation.value !== Number(population)) {
        throw new Error(`national coverage differs from GROUP BY: ${JSON.stringify({ gotCoverage, expectedCoverage })}`);
      }
      const series = (await gql(url, PREFECTURE_SERIES, prefecture)).data.statistics.dosesByDay;
      const expectedSeries = new Map<string, number>((await db.query(BASELINE_SERIES)).map((r: { date: string; n: string }) => [r.date, Number(r.n)]));
      series.dates.forEach((date: string, i: number) => {
        if (!series.countsSuppressed[i] && series.counts[i] !== (expectedSeries.get(date) ?? 0)) throw new Error(`series differs from GROUP BY on ${date}`);
      });

      console.log(`\nTiming (${ITERATIONS} API requests each after 20 warm-up, ${BASELINE_ITERATIONS} GROUP BY runs each):`);
      for (let i = 0; i < 20; i++) {
        await gql(url, NATIONAL_COVERAGE, national);
        await gql(url, PREFECTURE_SERIES, prefecture);
      }
      const rows: [string, { p50: number; p99: number }, { p50: number; p99: number }][] = [
        [
          'national coverage',
          await time(ITERATIONS, () => gql(url, NATIONAL_COVERAGE, national)),
          await time(BASELINE_ITERATIONS, async () => {
            for (const sql of BASELINE_COVERAGE) await db.query(sql);
          }),
        ],
        [
          `prefecture ${SERIES_PREFECTURE} daily series (${series.dates.length} days)`,
          await time(ITERATIONS, () => gql(url, PREFECTURE_SERIES, prefecture)),
          await time(BASELINE_ITERATIONS, () => db.query(BASELINE_SERIES)),
        ],
      ];
      const ms = (v: number) => `${v.toFixed(1)} ms`.padStart(10);
      console.log(`  ${'query'.padEnd(38)} ${'API p50'.padStart(10)} ${'API p99'.padStart(10)} ${'GROUP BY p50'.padStart(13)} ${'GROUP BY p99'.padStart(13)} ${'speed-up'.padStart(9)}`);
      let ok = true;
      for (const [name, api, baseline] of rows) {
        const ratio = baseline.p50 / api.p50;
        ok &&= api.p50 <= 50 && ratio >= 20;
        console.log(`  ${name.padEnd(38)} ${ms(api.p50)} ${ms(api.p99)} ${ms(baseline.p50).padStart(13)} ${ms(baseline.p99).padStart(13)} ${`${ratio.toFixed(0)}×`.padStart(9)}`);
      }
      console.log(`\nTarget (p50 ≤ 50 ms and ≥ 20× the GROUP BY): ${ok ? 'met' : 'NOT met'}. Total run ${seconds(total)}.`);
    } finally {
      await app.stop();
      await appDb.destroy();
    }
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

async function gql(url: string, query: string, token?: string, variables?: Record<string, unknown>): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body;
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
