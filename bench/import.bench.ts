import 'reflect-metadata';
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { randomBytes } from 'node:crypto';
import { Config } from '../src/config';
import { createDataSource, migrate } from '../src/db/data-source';
import { EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { withClient } from '../src/db/pg-client';
import { syncReferenceData } from '../src/db/reference-data';
import { ImportMode } from '../src/schema/enums';
import { createServices } from '../src/services';
import { municipalityCheckDigit, myNumberCheckDigit } from '../src/validation/identifiers';

/**
 * npm run bench:import [rows]: a synthetic registry file (default 1,000,000 rows) imported end
 * to end, against a plain COPY of the same file into an unlogged table measured in the same run.
 * Targets: import ≤ 60 s on 2 cores, peak RSS ≤ 512 MB, rate ≥ 0.15 × the COPY rate.
 */
const ROWS = Number(process.argv[2] ?? 1_000_000);

const FAMILY = [['佐藤', 'サトウ'], ['鈴木', 'スズキ'], ['高橋', 'タカハシ'], ['田中', 'タナカ'], ['伊藤', 'イトウ'], ['渡辺', 'ワタナベ'], ['山本', 'ヤマモト'], ['中村', 'ナカムラ'], ['小林', 'コバヤシ'], ['加藤', 'カトウ'], ['吉田', 'ヨシダ'], ['山田', 'ヤマダ'], ['佐々木', 'ササキ'], ['山口', 'ヤマグチ'], ['松本', 'マツモト'], ['井上', 'イノウエ']];
const GIVEN_M = [['翔太', 'ショウタ'], ['大輔', 'ダイスケ'], ['健一', 'ケンイチ'], ['蓮', 'レン'], ['湊', 'ミナト'], ['誠', 'マコト'], ['浩二', 'コウジ'], ['悠真', 'ユウマ']];
const GIVEN_F = [['陽葵', 'ヒマリ'], ['花子', 'ハナコ'], ['美咲', 'ミサキ'], ['結衣', 'ユイ'], ['恵子', 'ケイコ'], ['さくら', 'サクラ'], ['芽依', 'メイ'], ['裕子', 'ユウコ']];

/** Deterministic pseudo-random numbers, so every run imports the same file. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
}

async function generate(file: string, rows: number, code: string): Promise<void> {
  const out = createWriteStream(file);
  const rand = rng(20260401);
  const today = new Date();
  out.write('宛名番号,個人番号,氏,名,氏カナ,名カナ,生年月日,性別,接種券番号,券種,自治体コード\n');
  let chunk = '';
  for (let i = 1; i <= rows; i++) {
    const body = String(10_000_000_000 + i * 7919).slice(-11);
    const myNumber = body + myNumberCheckDigit(body);
    const male = rand(2) === 0;
    const [family, familyKana] = FAMILY[rand(FAMILY.length)];
    const [given, givenKana] = (male ? GIVEN_M : GIVEN_F)[rand(8)];
    const age = rand(101);
    const birth = new Date(Date.UTC(today.getUTCFullYear() - age - 1, rand(12), 1 + rand(28)));
    const iso = birth.toISOString().slice(0, 10);
    // About one row in five writes its birth date in the era form registry systems print.
    const date = i % 5 === 0 && iso >= '1989-01-08' && iso < '2019-05-01' ? `H${birth.getUTCFullYear() - 1988}.${birth.getUTCMonth() + 1}.${birth.getUTCDate()}` : iso;
    const ticket = String(1_000_000_000 + i);
    chunk += `${String(i).padStart(10, '0')},${myNumber},${family},${given},${familyKana},${givenKana},${date},${male ? 1 : 2},${ticket},3,${code}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const dataDir = path.resolve('.data');
  let embedded: EmbeddedDatabase | undefined;
  let url = process.env.DATABASE_URL;
  if (!url) {
    const dir = path.join(dataDir, 'bench-pg');
    rmSync(dir, { recursive: true, force: true });
    embedded = await startEmbeddedPostgres(dir, await freePort(), { persistent: false });
    url = embedded.url;
  }
  const db = createDataSource(url, { poolSize: 4 });
  await db.initialize();
  // The import works as the application role, under row-level security, as the server and CLI do.
  const appDb = createDataSource(url, { poolSize: 4, asApp: true });
  try {
    await migrate(db);
    await syncReferenceData(db);
    const config = { masterKey: randomBytes(32), tokenSecret: randomBytes(32), tokenTtlSeconds: 900, maxFailedLogins: 5, lockoutMinutes: 30 } as Config;
    await appDb.initialize();
    const services = createServices(appDb, config);

    // A fresh municipality outside the national list, so repeated runs on one database never collide.
    let code = '';
    for (let n = 999; !code; n--) {
      const candidate = `47${n}${municipalityCheckDigit(`47${n}`)}`;
      const rows = await db.query(
        `INSERT INTO municipality (code, prefecture_code, name, name_kana) VALUES ($1, '47', 'ベンチ市', 'ベンチシ') ON CONFLICT DO NOTHING RETURNING code`,
        [candidate],
      );
      if (rows.length) code = candidate;
    }

    mkdirSync(path.join(dataDir, 'bench'), { recursive: true });
    const file = path.join(dataDir, 'bench', `registry-${ROWS}.csv`);
    let started = Date.now();
    await generate(file, ROWS, code);
    const bytes = statSync(file).size;
    console.log(`generated ${ROWS.toLocaleString()} rows (${(bytes / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // Floor: the same bytes COPY'd as CSV into an unlogged table of text columns, no checks, no keys.
    // A single COPY lasts a second or two, so the median of three stands for it.
    const floors: number[] = [];
    for (let i = 0; i < 3; i++) {
      started = Date.now();
      await withClient(db, async (client) => {
        await client.query(`DROP TABLE IF EXISTS bench_copy_floor`);
        await client.query(`CREATE UNLOGGED TABLE bench_copy_floor (a text, b text, c text, d text, e text, f text, g text, h text, i text, j text, k text)`);
        await pipeline(createReadStream(file), client.query(copyFrom(`COPY bench_copy_floor FROM STDIN WITH (FORMAT csv, HEADER true)`)));
        await client.query(`DROP TABLE bench_copy_floor`);
      });
      floors.push((Date.now() - started) / 1000);
    }
    const floorSeconds = floors.sort((a, b) => a - b)[1];

    const baseRss = process.memoryUsage().rss;
    let peakRss = baseRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    const principal = { requestId: 'bench', channel: 'CLI', actor: null, municipalityCode: code };
    const run = async () => {
      const t0 = Date.now();
      // When each phase began, to show where the time goes (reading and staging, checks, merge).
      const phases = new Map<string, number>();
      const running = await services.imports.start(principal, createReadStream(file), { mode: ImportMode.ABORT, encoding: 'UTF8', bytesTotal: bytes },
        (p) => {
          if (!phases.has(p.phase)) phases.set(p.phase, Date.now());
        });
      const job = await running.done;
      const end = Date.now();
      if (job.status !== 'SUCCEEDED') throw new Error(`import ${job.status}: ${job.failureReason} (${job.rowsRejected} rejected)`);
      const marks = [...phases.entries(), ['', end] as const];
      const split = marks.slice(0, -1).map(([phase, at], i) => `${phase.toLowerCase()} ${((marks[i + 1][1] - at) / 1000).toFixed(1)} s`).join(', ');
      return { job, seconds: (end - t0) / 1000, split };
    };
    const first = await run();
    const again = await run();
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);

    const importRate = ROWS / first.seconds;
    const floorRate = ROWS / floorSeconds;
    const ratio = importRate / floorRate;
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
    const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    console.log(`import (new residents): ${first.seconds.toFixed(1)} s, ${Math.round(importRate).toLocaleString()} rows/s — inserted ${first.job.residentsInserted}, tickets ${first.job.ticketsInserted}`);
    console.log(`                        ${first.split}`);
    console.log(`re-import (no change):  ${again.seconds.toFixed(1)} s, ${Math.round(ROWS / again.seconds).toLocaleString()} rows/s — updated ${again.job.residentsUpdated}`);
    console.log(`                        ${again.split}`);
    console.log(`COPY floor:             ${floorSeconds.toFixed(1)} s, ${Math.round(floorRate).toLocaleString()} rows/s (median of ${floors.map((f) => f.toFixed(1)).join(', ')} s)`);
    console.log(`ratio import / COPY:    ${ratio.toFixed(3)}  (target ≥ 0.15: ${verdict(ratio >= 0.15)})`);
    console.log(`peak RSS:               ${mb(peakRss)} (at start of import ${mb(baseRss)}; target ≤ 512 MB: ${verdict(peakRss <= 512 * 1024 * 1024)})`);
    console.log(`whole import ≤ 60 s:    ${verdict(first.seconds <= 60)}`);
  } finally {
    if (appDb.isInitialized) await appDb.destroy();
    await db.destroy();
    await embedded?.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
