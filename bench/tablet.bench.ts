import 'reflect-metadata';
import { randomBytes, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startApp } from '../src/app';
import { Config } from '../src/config';
import { createDataSource, migrate } from '../src/db/data-source';
import { EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { syncReferenceData } from '../src/db/reference-data';
import { Role } from '../src/schema/enums';
import { municipalityCheckDigit } from '../src/validation/identifiers';

/**
 * Tablet registration through the real HTTP GraphQL endpoint, with concurrent clients, on a
 * seeded city; beside it a baseline measured in the same run on the same server: a bare
 * `{ __typename }` with the same token. Prints throughput, p50/p99 and the ratios.
 *
 *   npm run bench                      # embedded PostgreSQL under .data/bench-pg
 *   DATABASE_URL=postgres://… npm run bench   # a dedicated, migrated database
 *
 * BENCH_RESIDENTS (20000), BENCH_CLIENTS (16), BENCH_REQUESTS (6000) tune the run.
 */

const RESIDENTS = Number(process.env.BENCH_RESIDENTS ?? 20_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const REQUESTS = Math.min(Number(process.env.BENCH_REQUESTS ?? 6_000), RESIDENTS - 500);
/** Registrations of the warm-up, not measured: the run's requests must be more. */
const WARM_UP = 400;
if (!(Number.isInteger(CLIENTS) && CLIENTS >= 1) || !(Number.isInteger(REQUESTS) && REQUESTS > WARM_UP)) {
  console.error(`BENCH_CLIENTS must be a whole number from 1, and BENCH_REQUESTS (at most BENCH_RESIDENTS less 500) more than the ${WARM_UP} registrations of the warm-up; got ${CLIENTS} clients, ${REQUESTS} requests`);
  process.exit(2);
}
const PASSWORD = 'bench-password-2026';

const REGISTER = `mutation($input: RegisterDoseInput!) { registerDose(input: $input) { receipt { id status } userErrors { code } } }`;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

interface Result {
  name: string;
  throughput: number;
  p50: number;
  p99: number;
  failures: number;
}

/** Runs `total` requests with `clients` concurrent workers; each worker uses its own token. */
async function run(name: string, total: number, tokens: string[], send: (i: number, token: string) => Promise<boolean>): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(tokens.map(async (token) => {
    for (let i = next++; i < total; i = next++) {
      const t0 = performance.now();
      const ok = await send(i, token);
      latencies.push(performance.now() - t0);
      if (!ok) failures++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { name, throughput: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures };
}

async function newMunicipality(db: ReturnType<typeof createDataSource>): Promise<string> {
  for (;;) {
    const base = `13${randomInt(500, 1000)}`;
    const code = `${base}${municipalityCheckDigit(base)}`;
    const rows = await db.query(
      `INSERT INTO municipality (code, prefecture_code, name, name_kana) VALUES ($1, '13', $2, 'ベンチシ') ON CONFLICT (code) DO NOTHING RETURNING code`,
      [code, `Bench city ${code}`],
    );
    if (rows.length) return code;
  }
}

async function main(): Promise<void> {
  const wallStart = performance.now();
  let embedded: EmbeddedDatabase | undefined;
  let url = process.env.DATABASE_URL;
  if (!url) {
    const dir = path.resolve('.data/bench-pg');
    rmSync(dir, { recursive: true, force: true });
    embedded = await startEmbeddedPostgres(dir, await freePort(), { persistent: false });
    url = embedded.url;
  }
  const db = createDataSource(url, { poolSize: 20 });
  await db.initialize();
  await migrate(db);
  await syncReferenceData(db);

  const config: Config = {
    internetPort: 0, lgwanPort: 0, host: '127.0.0.1', lgwanHost: '127.0.0.1', databaseUrl: url, dataDir: '.data', embeddedPgPort: 0,
    masterKey: randomBytes(32), tokenSecret: randomBytes(32), tokenTtlSeconds: 3600, maxFailedLogins: 5, lockoutMinutes: 30, production: false,
  };
  // The server works as the non-owner role under row-level security, as in production.
  const appDb = createDataSource(url, { poolSize: 20, asApp: true });
  await appDb.initialize();
  const app = await startApp(config, appDb);
  // Silence per-request logging of anything unexpected; failures are counted instead.
  const endpoint = `${app.listeners.internetUrl}/graphql`;

  try {
    // A city whose residents hold tickets, and a site in another municipality (接種地 ≠ 住所地).
    const city = await newMunicipality(db);
    const siteCode = await newMunicipality(db);
    const seedStart = performance.now();
    await db.query(
      `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
         family_name_kana, given_name_kana, birth_date, sex)
       SELECT $1, gen_random_uuid(), 'B' || i, '\\x00'::bytea, decode(md5(i::text) || md5('x' || i), 'hex'), 1, 'ベンチ', '太郎', 'ベンチ', 'タロウ',
              date '1940-01-01' + (i % 25000), CASE WHEN i % 2 = 0 THEN 'MALE' ELSE 'FEMALE' END
       FROM generate_series(1, $2::int) AS i`,
      [city, RESIDENTS],
    );
    await db.query(
      `INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on)
       SELECT r.municipality_code, gen_random_uuid(), r.id, lpad(substr(r.addressee_number, 2), 10, '0'), '1-2', date '2024-01-01'
       FROM resident r WHERE r.municipality_code = $1`,
      [city],
    );
    await db.query('ANALYZE resident; ANALYZE ticket; ANALYZE vaccination_record');
    console.log(`seeded ${RESIDENTS} residents with tickets in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

    const tokens: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const loginId = `bench-site-${process.pid}-${i}`;
      await app.services.accounts.create({ requestId: 'bench', channel: 'CLI', actor: null },
        { loginId, password: PASSWORD, role: Role.VACCINATION_SITE, displayName: loginId, municipalityCode: siteCode }, { chosenByHolder: true });
      const login = await post(endpoint, 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { accessToken } }', { l: loginId, p: PASSWORD });
      tokens.push(login.data.login.accessToken);
    }

    const baseline = (_i: number, token: string) => post(endpoint, '{ __typename }', undefined, token).then((r) => r.data?.__typename === 'Query');
    let ticket = 0;
    const register = (_i: number, token: string) => {
      const n = ++ticket;
      return post(endpoint, REGISTER, {
        input: {
          ticket: { ocrLine: `11${city}${String(n).padStart(10, '0')}` },
          doseNumber: 1, vaccinatedOn: '2024-06-01', vaccineCode: 'PFIZER-COMIRNATY', lotNumber: 'FK1234', idempotencyKey: `bench-${process.pid}-${n}`,
        },
      }, token).then((r) => r.data?.registerDose?.receipt?.status === 'RECORDED');
    };

    // Warm up both paths (JIT, connection pool, plan cache) before measuring.
    await run('warm-up', WARM_UP, tokens, baseline);
    await run('warm-up', WARM_UP, tokens, register);
    const base = await run('baseline { __typename }', REQUESTS, tokens, baseline);
    const reg = await run('registerDose', REQUESTS - WARM_UP, tokens, register);

    const [{ count }] = await db.query(`SELECT count(*)::int AS count FROM vaccination_record WHERE municipality_code = $1`, [city]);
    console.log('');
    console.log(`tablet registration bench: ${CLIENTS} concurrent clients, ${RESIDENTS} residents, site ${siteCode} → city ${city}`);
    console.log('scenario                   requests/s     p50 ms     p99 ms   failures');
    for (const r of [base, reg]) {
      console.log(`${r.name.padEnd(25)} ${r.throughput.toFixed(0).padStart(11)} ${r.p50.toFixed(2).padStart(10)} ${r.p99.toFixed(2).padStart(10)} ${String(r.failures).padStart(10)}`);
    }
    console.log('');
    console.log(`ratio registerDose / baseline: throughput ${(reg.throughput / base.throughput).toFixed(2)}×, p50 ${(reg.p50 / base.p50).toFixed(2)}×, p99 ${(reg.p99 / base.p99).toFixed(2)}×`);
    console.log(`records written: ${count} (expected ${REQUESTS}); total wall time ${((performance.now() - wallStart) / 1000).toFixed(0)} s`);
    if (reg.failures > 0 || count !== REQUESTS) process.exitCode = 1;
  } finally {
    await app.stop();
    await appDb.destroy();
    await db.destroy();
    await embedded?.stop();
  }
}

async function post(endpoint: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<any> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
