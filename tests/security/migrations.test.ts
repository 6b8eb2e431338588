import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { run } from '../../src/cli';
import { APP_ROLE, createDataSource, migrate, migrations, revertMigrations } from '../../src/db/data-source';
import { createLog } from '../../src/log';
import { writeAudit } from '../../src/services/audit.service';
import { LogLines } from '../helpers/test-app';

/**
 * Migrations against a database of their own (roles are shared by the cluster, so no migration
 * may drop one): every one reverts and applies again, and the password-change migration forces a
 * change on the accounts that already held a password the operator chose.
 */
let admin: DataSource;
let db: DataSource;
const NAME = `migrations_${process.pid}`;
let dbUrl: string;

beforeAll(async () => {
  admin = createDataSource(process.env.DATABASE_URL!);
  await admin.initialize();
  await admin.query(`CREATE DATABASE ${NAME}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${NAME}`;
  dbUrl = url.toString();
  db = createDataSource(dbUrl);
  await db.initialize();
  await migrate(db);
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await admin?.query(`DROP DATABASE IF EXISTS ${NAME}`);
  await admin?.destroy();
});

const applied = async (): Promise<string[]> => (await db.query('SELECT name FROM migrations ORDER BY id')).map((r: { name: string }) => r.name);
const undoUntil = async (name: string) => {
  while ((await applied()).at(-1) !== name) await db.undoLastMigration({ transaction: 'each' });
};

it('reverts every migration, as TypeORM reverts them, and applies them all again', async () => {
  await undoUntil('Foundation1795392000000');
  await db.undoLastMigration({ transaction: 'each' });
  expect(await applied()).toEqual([]);
  const left = await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations'`);
  expect(left).toEqual([]);
  await migrate(db);
  expect(await applied()).toEqual(migrations.map((m) => m.name));
}, 120_000);

it("leaves the application role's grant of deadlock_timeout when reverted: the cluster's other databases' imports rely on it", async () => {
  const granted = async () => (await db.query(`SELECT has_parameter_privilege('${APP_ROLE}', 'deadlock_timeout', 'SET') AS granted`))[0].granted;
  expect(await granted()).toBe(true);
  await undoUntil('ImportDeadlockPatience1798200000000');
  await db.undoLastMigration({ transaction: 'each' });
  try {
    expect(await granted()).toBe(true);
  } finally {
    await migrate(db);
  }
  expect(await granted()).toBe(true);
}, 120_000);

it('makes the accounts the operator issued through the API change their password, and no others', async () => {
  await undoUntil('EligibilityMissesAlert1797300000000');
  const issued = '00000000-0000-4000-8000-000000000001';
  const own = '00000000-0000-4000-8000-000000000002';
  await db.query(`INSERT INTO account (id, login_id, password_hash, role, display_name) VALUES
    ('${issued}', 'issued-by-operator', 'x', 'NATIONAL', 'issued'), ('${own}', 'made-in-shell', 'x', 'OPERATOR', 'own')`);
  await writeAudit(db.manager, { requestId: 'r1', channel: 'LGWAN', actor: null }, [{ operation: 'account.create', municipalityCode: null, targetIds: [issued], outcome: 'SUCCESS' }]);
  await writeAudit(db.manager, { requestId: 'r2', channel: 'CLI', actor: null }, [{ operation: 'account.create', municipalityCode: null, targetIds: [own], outcome: 'SUCCESS' }]);
  await migrate(db);
  const rows = await db.query('SELECT login_id, must_change_password FROM account ORDER BY login_id');
  expect(rows).toEqual([
    { login_id: 'issued-by-operator', must_change_password: true },
    { login_id: 'made-in-shell', must_change_password: false },
  ]);
}, 120_000);

it('names the login IDs that differ only in case instead of taking them for one account, and migrates once they are renamed', async () => {
  await undoUntil('AuditSearchIndexes1798900000000');
  const twin = '00000000-0000-4000-8000-000000000003';
  await db.query(`INSERT INTO account (id, login_id, password_hash, role, display_name) VALUES
    ('00000000-0000-4000-8000-000000000004', 'Twin-Officer', 'x', 'NATIONAL', 'one'), ('${twin}', 'twin-officer', 'x', 'NATIONAL', 'other')`);
  await expect(migrate(db)).rejects.toThrow('login IDs that differ only in case: Twin-Officer, twin-officer. Rename all but one of each');
  expect((await applied()).at(-1)).toBe('ExportRegistrationIndexes1799000000001');
  await db.query(`UPDATE account SET login_id = 'twin-officer-2' WHERE id = $1`, [twin]);
  await migrate(db);
  expect(await applied()).toEqual(migrations.map((m) => m.name));
}, 120_000);

it('drops the middle dot from the kana search of residents already kept, and keeps it again when reverted', async () => {
  await undoUntil('AccountListIndexes1799200000000');
  await db.query(`INSERT INTO prefecture (code, name) VALUES ('13', '東京都') ON CONFLICT DO NOTHING`);
  await db.query(`INSERT INTO municipality (code, prefecture_code, name, name_kana) VALUES ('131016', '13', '千代田区', 'チヨダク') ON CONFLICT DO NOTHING`);
  await db.query(`INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
      family_name_kana, given_name_kana, birth_date, sex)
    VALUES ('131016', gen_random_uuid(), 'kana-1', '\\x00', $1, 1, 'ブラウン', 'メアリー・アン', 'ブラウン', 'メアリー・アン', '1980-01-01', 'FEMALE')`, [Buffer.alloc(32)]);
  const searched = async () => (await db.query(`SELECT family_name_kana || given_name_kana AS kept, search_kana FROM resident WHERE addressee_number = 'kana-1'`))[0];
  expect(await searched()).toEqual({ kept: 'ブラウンメアリー・アン', search_kana: 'ブラウンメアリー・アン' });
  await migrate(db);
  expect(await applied()).toEqual(migrations.map((m) => m.name));
  expect(await searched()).toEqual({ kept: 'ブラウンメアリー・アン', search_kana: 'ブラウンメアリーアン' });
  await undoUntil('AccountListIndexes1799200000000');
  expect(await searched()).toEqual({ kept: 'ブラウンメアリー・アン', search_kana: 'ブラウンメアリー・アン' });
  await migrate(db);
  expect(await searched()).toEqual({ kept: 'ブラウンメアリー・アン', search_kana: 'ブラウンメアリーアン' });
  expect((await db.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'resident_kana_idx'`))[0].indexdef).toMatch(/\(municipality_code, search_kana text_pattern_ops\)/);
}, 120_000);

it("drops the index of records by the tablet's request key, which no statement reads, and builds it as it was when reverted", async () => {
  const index = async (name: string) => (await db.query('SELECT indexdef FROM pg_indexes WHERE indexname = $1', [name])).map((r: { indexdef: string }) => r.indexdef);
  expect(await index('vaccination_record_idempotency_key')).toEqual([]);
  // The key stays claimed once per account, where a retry finds it.
  expect(await index('tablet_registration_pk')).toEqual(['CREATE UNIQUE INDEX tablet_registration_pk ON public.tablet_registration USING btree (account_id, idempotency_key)']);
  await undoUntil('StatsRebuildEveryTenant1799980000000');
  expect(await index('vaccination_record_idempotency_key')).toEqual([
    'CREATE UNIQUE INDEX vaccination_record_idempotency_key ON public.vaccination_record USING btree (municipality_code, recorded_by, idempotency_key) WHERE (idempotency_key IS NOT NULL)',
  ]);
  await migrate(db);
  expect(await applied()).toEqual(migrations.map((m) => m.name));
  expect(await index('vaccination_record_idempotency_key')).toEqual([]);
}, 120_000);

it('migrates as a database owner that is no superuser, with vrs_app granted beforehand, whose rebuild of the statistics still counts every municipality', async () => {
  // As a managed PostgreSQL gives it (README, External PostgreSQL): vrs_app is the cluster's already.
  const owner = `migrations_owner_${process.pid}`;
  const database = `${NAME}_owned`;
  await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner-password' NOSUPERUSER NOBYPASSRLS`);
  await admin.query(`GRANT vrs_app TO ${owner}`);
  await admin.query(`CREATE DATABASE ${database} OWNER ${owner}`);
  const url = new URL(process.env.DATABASE_URL!);
  Object.assign(url, { username: owner, password: 'owner-password', pathname: `/${database}` });
  const owned = createDataSource(url.toString());
  try {
    await owned.initialize();
    await migrate(owned);
    expect((await owned.query('SELECT name FROM migrations ORDER BY id')).map((r: { name: string }) => r.name)).toEqual(migrations.map((m) => m.name));
    await owned.query(`INSERT INTO prefecture (code, name) VALUES ('13', '東京都')`);
    await owned.query(`INSERT INTO municipality (code, prefecture_code, name, name_kana) VALUES ('131016', '13', '千代田区', 'チヨダク')`);
    // The checks standing for foreign keys see every tenant, and leave the transaction's own list as it was.
    const tenantsAfterWrites = await owned.transaction(async (tx) => {
      await tx.query(`SET LOCAL ROLE vrs_app`);
      await tx.query(`SELECT set_config('vrs.tenants', '131016', true)`);
      const [{ id }] = await tx.query(`INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
          family_name_kana, given_name_kana, birth_date, sex)
        VALUES ('131016', gen_random_uuid(), 'owned-1', '\\x00', $1, 1, '山田', '太郎', 'ヤマダ', 'タロウ', '1980-01-01', 'MALE') RETURNING id`, [Buffer.alloc(32)]);
      await tx.query(`INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on) VALUES ('131016', gen_random_uuid(), $1, '1234567890', '1-2', '2021-04-01')`, [id]);
      return (await tx.query(`SELECT current_setting('vrs.tenants') AS tenants`))[0].tenants;
    });
    expect(tenantsAfterWrites).toBe('131016');
    // The owner, under row-level security like the application, rebuilds from every municipality's rows.
    const rebuilt = await owned.transaction(async (tx) => {
      await tx.query(`SELECT set_config('vrs.tenants', '', true)`);
      await tx.query('SELECT stats_rebuild()');
      return (await tx.query(`SELECT current_setting('vrs.tenants') AS tenants, (SELECT sum(residents)::int FROM stats_population WHERE area = '131016') AS residents`))[0];
    });
    expect(rebuilt).toEqual({ tenants: '', residents: 1 });
  } finally {
    await owned.destroy().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.query(`DROP ROLE IF EXISTS ${owner}`);
  }
}, 120_000);

it('migrates a new database from three servers started at once: they take turns, and every one starts', async () => {
  const database = `${NAME}_replicas`;
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${database}`;
  // One connection each: the migrations run on the session that holds the turn.
  const servers = [1, 2, 3].map(() => createDataSource(url.toString(), { poolSize: 1 }));
  try {
    await Promise.all(servers.map((server) => server.initialize()));
    const started = await Promise.allSettled(servers.map((server) => migrate(server)));
    expect(started.map((each) => (each.status === 'rejected' ? String(each.reason) : each.status))).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect((await servers[0].query('SELECT name FROM migrations ORDER BY id')).map((r: { name: string }) => r.name)).toEqual(migrations.map((m) => m.name));
  } finally {
    await Promise.all(servers.map((server) => server.destroy().catch(() => undefined)));
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  }
}, 120_000);

it('says once in its log that it waits while another server migrates, and nothing when it need not wait', async () => {
  const other = db.createQueryRunner();
  await other.query(`SELECT pg_advisory_lock(hashtextextended('migrations', 0))`);
  const log = new LogLines();
  let done = false;
  const waiting = migrate(db, createLog('info', log)).finally(() => (done = true));
  try {
    // Several of its 0.2 s asks go by.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(done).toBe(false);
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([['info', 'migrations: another server is migrating this database; waiting for its turn']]);
  } finally {
    await other.query(`SELECT pg_advisory_unlock(hashtextextended('migrations', 0))`);
    await other.release();
  }
  await waiting;
  const alone = new LogLines();
  await migrate(db, createLog('info', alone));
  expect(alone.text).toEqual([]);
});

it('refuses a database a newer version migrated, naming the migrations it does not know, and applies none of its own meanwhile', async () => {
  // A deploy rolled back: the database holds a migration of the newer code, and lacks one of this code's.
  await undoUntil(migrations.at(-2)!.name);
  const newer = 'FromANewerVersion1899999999999';
  await db.query(`INSERT INTO migrations (timestamp, name) VALUES (1899999999999, $1)`, [newer]);
  try {
    await expect(migrate(db)).rejects.toThrow(`the database holds migrations this version does not know: ${newer}. A newer version applied them, `
      + 'and this one does not start against a schema it was not written for: start the version that applied them, or revert them with that version first '
      + `(npm run cli -- revert-migrations ${migrations.at(-1)!.name})`);
    expect(await applied()).toEqual([...migrations.slice(0, -1).map((m) => m.name), newer]);
    // Nor does it revert what it does not know.
    await expect(revertMigrations(db, migrations.at(-3)!.name)).rejects.toThrow('the database holds migrations this version does not know: ');
    expect(await applied()).toEqual([...migrations.slice(0, -1).map((m) => m.name), newer]);
  } finally {
    await db.query('DELETE FROM migrations WHERE name = $1', [newer]);
  }
  await migrate(db);
  expect(await applied()).toEqual(migrations.map((m) => m.name));
}, 120_000);

it('reverts, newest first, the migrations applied after the one named, for the version whose newest it is', async () => {
  const to = migrations.at(-3)!.name;
  // As the operator does: the command line on this database.
  const saved = { ...process.env };
  const printed = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    process.env.DATABASE_URL = dbUrl;
    process.env.MASTER_KEY = randomBytes(32).toString('base64');
    process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
    // Its log's line for each migration reverted is not the test's to print.
    process.env.LOG_LEVEL = 'warn';
    await run(['revert-migrations', to]);
    expect(printed.mock.calls).toEqual([[`Reverted 2 migrations: ${migrations.at(-1)!.name}, ${migrations.at(-2)!.name}. ${to} is the newest applied.`]]);
    // Run again, it applies none of the reverted migrations first, only to revert them once more.
    printed.mockClear();
    await run(['revert-migrations', to]);
    expect(printed.mock.calls).toEqual([[`${to} is the newest applied already: nothing was reverted.`]]);
    // Nor before it finds a mistyped name, which would leave the database migrated past the older version.
    await expect(run(['revert-migrations', 'Nothing1700000000000'])).rejects.toThrow('Nothing1700000000000 is no migration of this version');
    expect(await applied()).toEqual(migrations.slice(0, -2).map((m) => m.name));
  } finally {
    printed.mockRestore();
    process.env = saved;
  }
  expect(await applied()).toEqual(migrations.slice(0, -2).map((m) => m.name));
  expect(await revertMigrations(db, to)).toEqual([]);
  await expect(revertMigrations(db, migrations.at(-1)!.name)).rejects.toThrow(`${migrations.at(-1)!.name} is not applied to this database: there is nothing after it to revert`);
  await expect(revertMigrations(db, 'Nothing1700000000000')).rejects.toThrow(
    `Nothing1700000000000 is no migration of this version, whose migrations run from Foundation1795392000000 to ${migrations.at(-1)!.name}`);
  expect(await applied()).toEqual(migrations.slice(0, -2).map((m) => m.name));
  await migrate(db);
  expect(await applied()).toEqual(migrations.map((m) => m.name));
}, 120_000);
