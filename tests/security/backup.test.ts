import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { verifyAudit } from '../../src/cli';
import { createDataSource, migrate } from '../../src/db/data-source';
import { syncReferenceData } from '../../src/db/reference-data';
import { Channel, Role } from '../../src/schema/enums';
import { clusterProcess } from '../helpers/node-process';
import { importFile, registryCsv, registryRow } from '../helpers/registry-csv';
import { registerResident, TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

/**
 * README, Backup and restore: a standard pg_dump of the database, made as its owner, restored into
 * a new database or a new cluster, serves as the one dumped. The embedded PostgreSQL ships no
 * pg_dump: these tests take PostgreSQL 18's client programs from PG_BIN or the PATH, and are
 * skipped where there are none.
 */
function clientPrograms(): string | null {
  for (const dir of [process.env.PG_BIN, ...(process.env.PATH ?? '').split(path.delimiter)]) {
    if (!dir || !existsSync(path.join(dir, 'pg_dump'))) continue;
    const version = execFileSync(path.join(dir, 'pg_dump'), ['--version'], { encoding: 'utf8' });
    if (Number(/(\d+)\.\d+/.exec(version)?.[1]) >= 18) return dir;
  }
  return null;
}
const bin = clientPrograms();
const withClients = bin ? describe : describe.skip;

const OWNER = `vrs_backup_${process.pid}`;
const PASSWORD = 'owner-password';
const NAME = `backup_${process.pid}`;
const masterKey = randomBytes(32);
const cli = { requestId: 'backup-test', channel: 'CLI', actor: null };
const READ = 'query($id: ID!) { resident(id: $id) { myNumber } }';
const dumpFile = path.resolve('.data', `backup-${process.pid}.dump`);

/** Runs one of PostgreSQL's client programs; its error output if it fails. */
function pg(program: string, args: string[], env: Record<string, string> = {}): void {
  try {
    execFileSync(path.join(bin!, program), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`${program}: ${(error as { stderr: Buffer }).stderr}`);
  }
}

/** `verify-audit` on the database at `url`: its exit code and the digest it printed. */
async function verifyAuditOn(url: string, ...args: string[]): Promise<{ exitCode: number; digest: string | undefined; err: string[] }> {
  const shared = process.env.DATABASE_URL;
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  process.env.DATABASE_URL = url;
  try {
    await verifyAudit(...args);
    return { exitCode: Number(process.exitCode ?? 0), digest: log.mock.calls.at(-1)?.[0], err: error.mock.calls.map(([line]) => String(line)) };
  } finally {
    process.env.DATABASE_URL = shared;
    log.mockRestore();
    error.mockRestore();
    process.exitCode = 0;
  }
}

const urlOf = (base: string, database: string, user = OWNER, password = PASSWORD): string =>
  Object.assign(new URL(base), { username: user, password, pathname: `/${database}` }).toString();

const admin = createDataSource(process.env.DATABASE_URL!, { poolSize: 1 });
// What the dumped database held: a resident registered before its municipality's key was rotated,
// and the digest of the operation log's last checkpoint, kept outside the system.
let source: { code: string; residentId: string; myNumber: string; digest: string; residents: number };

withClients('backup and restore', () => {
  beforeAll(async () => {
    process.env.MASTER_KEY = masterKey.toString('base64');
    process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
    // As README's External PostgreSQL has it: an owner that is no superuser, vrs_app granted to it.
    await admin.initialize();
    await admin.query(`CREATE ROLE ${OWNER} LOGIN PASSWORD '${PASSWORD}' CREATEROLE`);
    await admin.query(`GRANT vrs_app TO ${OWNER}`);
    await admin.query(`CREATE DATABASE ${NAME} OWNER ${OWNER}`);
    const url = urlOf(process.env.DATABASE_URL!, NAME);
    const owned = createDataSource(url, { poolSize: 1 });
    await owned.initialize();
    await migrate(owned);
    await syncReferenceData(owned);
    await owned.destroy();

    const t = await TestApp.start({ databaseUrl: url, masterKey });
    try {
      const { code, officer } = await t.tenant();
      const resident = await registerResident(officer);
      expect((await importFile(t, officer, registryCsv([registryRow(), registryRow()]))).status).toBe('SUCCEEDED');
      const { ticketNumber } = await residentWithTicket(officer);
      const site = await tablet(t, code);
      expect((await site.gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber) })).data.registerDose.userErrors).toEqual([]);
      expect(await t.app.services.keyRotation.rotateTenantKey(cli, code)).toEqual({ version: 2, reencrypted: 4 });
      const { exitCode, digest } = await verifyAuditOn(url);
      expect(exitCode).toBe(0);
      source = { code, residentId: resident.id, myNumber: resident.input.myNumber as string, digest: digest!, residents: 4 };
    } finally {
      await t.stop();
    }
    // The owner is under row-level security like the application: it reads every municipality's rows
    // only with vrs.tenants = '*', and pg_dump asked to read under it.
    pg('pg_dump', ['-Fc', '--enable-row-security', '-f', dumpFile, '-d', url], { PGOPTIONS: '-c vrs.tenants=*' });
  }, 120_000);

  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${NAME}_restored WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${OWNER}`);
    await admin.destroy();
    rmSync(dumpFile, { force: true });
  });

  /** A server on the restored database: sign-in, My Number under the rotated key, the operation log, an import and a dose. */
  async function expectServing(url: string): Promise<void> {
    const { exitCode, digest } = await verifyAuditOn(url, '--expect', source.digest);
    expect(exitCode).toBe(0);
    expect(digest).not.toBe(source.digest);
    const t = await TestApp.start({ databaseUrl: url, masterKey });
    try {
      const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: source.code });
      expect((await officer.gql(READ, { id: source.residentId })).data.resident.myNumber).toBe(source.myNumber);
      expect((await importFile(t, officer, registryCsv([registryRow()]))).status).toBe('SUCCEEDED');
      const { ticketNumber } = await residentWithTicket(officer);
      const site = await tablet(t, source.code);
      expect((await site.gql(REGISTER_DOSE, { input: doseInput(source.code, ticketNumber) })).data.registerDose.receipt.status).toBe('RECORDED');
    } finally {
      await t.stop();
    }
    expect((await verifyAuditOn(url)).exitCode).toBe(0);
  }

  it("refuses the owner's dump without row-level security, and holds no resident without vrs.tenants", () => {
    const url = urlOf(process.env.DATABASE_URL!, NAME);
    const empty = path.resolve('.data', `backup-${process.pid}-empty.dump`);
    try {
      expect(() => pg('pg_dump', ['-Fc', '-f', empty, '-d', url])).toThrow(/query would be affected by row-level security policy/);
      pg('pg_dump', ['-Fc', '--enable-row-security', '-f', empty, '-d', url]);
      const residents = (file: string) => execFileSync(path.join(bin!, 'pg_restore'), ['-a', '-t', 'resident', '-f', '-', file], { encoding: 'utf8' })
        .split('\n').filter((line) => line.startsWith(`${source.code}\t`)).length;
      expect(residents(empty)).toBe(0);
      expect(residents(dumpFile)).toBe(source.residents);
    } finally {
      rmSync(empty, { force: true });
    }
  });

  it('restores into a new database of the same cluster, which serves as the one dumped', async () => {
    await admin.query(`CREATE DATABASE ${NAME}_restored OWNER ${OWNER}`);
    const url = urlOf(process.env.DATABASE_URL!, `${NAME}_restored`);
    pg('pg_restore', ['--exit-on-error', '-d', url, dumpFile]);
    await expectServing(url);
  }, 120_000);

  it('restores into a new cluster once the owner and vrs_app are made there, which serves as the one dumped', async () => {
    const dir = path.resolve('.data', `backup-cluster-${process.pid}-${randomInt(1e9)}`);
    const cluster = await clusterProcess(dir, { persistent: false });
    const superuser = createDataSource(cluster.url, { poolSize: 1 });
    try {
      await superuser.initialize();
      await superuser.query(`CREATE ROLE vrs_app NOLOGIN`);
      await superuser.query(`CREATE ROLE ${OWNER} LOGIN PASSWORD '${PASSWORD}' CREATEROLE`);
      await superuser.query(`GRANT vrs_app TO ${OWNER}`);
      await superuser.query(`CREATE DATABASE vrs_restored OWNER ${OWNER}`);
      const url = urlOf(cluster.url, 'vrs_restored');
      pg('pg_restore', ['--exit-on-error', '-d', url, dumpFile]);
      await expectServing(url);
    } finally {
      await superuser.destroy();
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
