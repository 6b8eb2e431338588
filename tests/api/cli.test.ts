import iconv from 'iconv-lite';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from 'pg';
import { archiveAudit, createOperator, importResidents, progressBar, progressFields, run, verifyAudit } from '../../src/cli';
import { freePort } from '../../src/db/embedded-postgres';
import { lockKeyVersions } from '../../src/db/registry-lock';
import { Channel, ImportPhase } from '../../src/schema/enums';
import { registryCsv, registryRow, residentRows } from '../helpers/registry-csv';
import { codes, registerResident, TestApp } from '../helpers/test-app';

/** A file of src/ run in a Node process of its own, as `npm start` and `npm run cli` run the build. */
function typescript(file: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['-r', path.resolve('tests/helpers/run-typescript.js'), file, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    process: child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    /** Resolves once `text` is on stdout; rejects if the process ends first. */
    printed: (text: string) => new Promise<void>((resolve, reject) => {
      const check = () => stdout.includes(text) && resolve();
      child.stdout.on('data', check);
      void exited.then((code) => reject(new Error(`exited ${code} before printing "${text}": ${stderr}`)));
    }),
  };
}

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
  // The CLI reads its configuration from the environment, as on a production host.
  process.env.MASTER_KEY = randomBytes(32).toString('base64');
  process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
});
afterAll(() => t.stop());

describe('operator command line', () => {
  it('creates the first operator on a database given by DATABASE_URL, who can then sign in', async () => {
    const loginId = `first-operator-${randomInt(1e9)}`;
    process.env.OPERATOR_PASSWORD = 'a-long-operator-password';
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await createOperator(loginId);
      expect(log).toHaveBeenCalledWith(expect.stringContaining(`Created operator ${loginId}`));
    } finally {
      log.mockRestore();
    }
    // Whoever ran the command chose the password: no change is forced at first sign-in.
    const login = await t.request(Channel.LGWAN, 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { accessToken mustChangePassword } }',
      { l: loginId, p: 'a-long-operator-password' });
    expect(login.data.login.mustChangePassword).toBe(false);
    expect(codes(await t.request(Channel.LGWAN, '{ accounts { nodes { id } } }', {}, login.data.login.accessToken))).toEqual([]);
    await expect(createOperator(loginId)).rejects.toMatchObject({ errors: [{ field: ['input', 'loginId'], code: 'DUPLICATE' }] });
    // Each command is one request in the operation log: a second operator's creation is not the first's.
    const second = `second-operator-${randomInt(1e9)}`;
    const quiet = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await createOperator(second);
    } finally {
      quiet.mockRestore();
    }
    const created = await t.db.query(
      `SELECT e.request_id FROM audit_event e JOIN account a ON a.id::text = ANY (e.target_ids) WHERE e.operation = 'account.create' AND a.login_id IN ($1, $2)`, [loginId, second],
    );
    expect(created).toEqual([{ request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) }, { request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
    expect(created[0].request_id).not.toBe(created[1].request_id);
  });

  it('tells a production server on the embedded database to be stopped for the first operator, whom the command then creates', async () => {
    mkdirSync('.data', { recursive: true });
    // Readable by the unprivileged user the embedded PostgreSQL runs as under root.
    const dir = mkdtempSync(path.resolve('.data', 'production-'));
    chmodSync(dir, 0o755);
    const env: NodeJS.ProcessEnv = {
      ...process.env, NODE_ENV: 'production', DATA_DIR: dir, EMBEDDED_PG_PORT: String(await freePort()),
      LGWAN_HOST: '127.0.0.1', INTERNET_PORT: '0', LGWAN_PORT: '0', OPERATOR_PASSWORD: 'a-long-operator-password',
    };
    delete env.DATABASE_URL;
    const server = typescript('src/main.ts', [], env);
    try {
      await server.printed('LG-WAN channel:');
      expect(server.stdout()).toContain('NODE_ENV=production: no demo data is loaded. To create the first operator, stop the server, run `npm run cli -- create-operator <loginId>`, then start the server again.\n');
      // While the server holds the embedded database, the command cannot open it.
      const refused = typescript('src/cli.ts', ['create-operator', 'first-operator'], env);
      expect(await refused.exited).toBe(1);
      expect(refused.stderr()).toContain(`embedded PostgreSQL in ${dir}/pg is in use by another process (pid ${server.process.pid}) of this server: stop it, or set DATA_DIR or DATABASE_URL\n`);
      server.process.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      // A clean stop, as the log tells it apart from a crash: its last two lines.
      expect(server.stderr().trim().split('\n').slice(-2).map((line) => JSON.parse(line)).map(({ level, msg, signal }) => ({ level, msg, signal }))).toEqual([
        { level: 'info', msg: 'SIGTERM: stopping; requests and downloads under way get up to 20 s, running imports up to a minute, to finish', signal: 'SIGTERM' },
        { level: 'info', msg: 'Stopped.', signal: undefined },
      ]);
      const created = typescript('src/cli.ts', ['create-operator', 'first-operator'], env);
      expect(await created.exited).toBe(0);
      expect(created.stdout()).toMatch(/^Created operator first-operator \(/m);
    } finally {
      // Stopped as an operator would, so that it stops its database too.
      if (server.process.exitCode === null && server.process.signalCode === null) {
        server.process.kill('SIGTERM');
        await server.exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('archives the operation log as the database owner, the one role allowed to', async () => {
    // A retention no event has reached: nothing moves that other tests read.
    process.env.AUDIT_RETENTION_DAYS = '36500';
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await archiveAudit();
      expect(log).toHaveBeenCalledWith(expect.stringMatching(/^Archived 0 events older than /));
    } finally {
      log.mockRestore();
      delete process.env.AUDIT_RETENTION_DAYS;
    }
  });

  it('refuses to verify a chain that no municipality code or platform names', async () => {
    await expect(verifyAudit('platfrom')).rejects.toThrow('verify-audit: "platfrom" is neither a municipality code nor platform');
    // A municipality code mistyped is named as one, with what is wrong with it.
    for (const mistyped of ['131017', '131061']) {
      await expect(verifyAudit(mistyped)).rejects.toThrow(`verify-audit: municipality code "${mistyped}": check digit does not match (mistyped or misread code?)`);
    }
  });

  it('prints the usage when asked for it, and names a command it does not know, or one missing, before the usage', async () => {
    const help = typescript('src/cli.ts', ['--help'], process.env);
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: npm run cli -- <command>\n/);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      for (const ask of ['-h', 'help']) await run([ask]);
      expect(log.mock.calls).toEqual([[expect.stringMatching(/^Usage: npm run cli -- <command>\n/)], [expect.stringMatching(/^Usage: /)]]);
    } finally {
      log.mockRestore();
    }
    for (const [args, problem] of [[['rotate-masterkey'], 'unknown command "rotate-masterkey"'], [[], 'a command is needed']] as const) {
      const refused = typescript('src/cli.ts', [...args], process.env);
      expect(await refused.exited).toBe(2);
      expect(refused.stdout()).toBe('');
      expect(refused.stderr()).toMatch(new RegExp(`^${problem}\n\nUsage: npm run cli -- <command>\n`));
    }
  }, 120_000);

  it('prints the usage for --help or -h after a command, and runs nothing', async () => {
    const { code } = await t.tenant();
    // Without a terminal or OPERATOR_PASSWORD, create-operator would stop for the password; -h is no login id.
    const saved = process.env.OPERATOR_PASSWORD;
    delete process.env.OPERATOR_PASSWORD;
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const asked = [['create-operator', '-h'], ['create-operator', 'ops', '--help'], ['rotate-tenant-key', '-h'], ['verify-audit', code, '--help'],
        ['import-residents', '--help'], ['import-residents', code, 'residents.csv', '--mode', 'skip', '-h'], ['archive-audit', '--help']];
      for (const args of asked) await run(args);
      expect(log.mock.calls).toEqual(asked.map(() => [expect.stringMatching(/^Usage: npm run cli -- <command>\n/)]));
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      log.mockRestore();
      if (saved !== undefined) process.env.OPERATOR_PASSWORD = saved;
    }
    expect(await t.db.query(`SELECT 1 FROM account WHERE login_id IN ('-h', 'ops')`)).toEqual([]);
  });

  it('names the argument missing, the option unknown or the word too many, then prints the usage', async () => {
    const { code } = await t.tenant();
    const refusals: [string[], string][] = [
      [['create-operator'], 'create-operator: missing <loginId>'],
      [['create-operator', '--login', 'ops'], 'create-operator: unknown option --login'],
      [['verify-audit', '--expect'], 'verify-audit: --expect needs a value'],
      [['verify-audit', '--expect', '--strict'], 'verify-audit: --expect needs a value'],
      [['verify-audit', code, '--strict'], 'verify-audit: unknown option --strict'],
      [['rotate-tenant-key'], 'rotate-tenant-key: missing <code>'],
      [['reencrypt-tenant-key'], 'reencrypt-tenant-key: missing <code>'],
      [['archive-audit', '--days', '30'], 'archive-audit: unknown option --days'],
      [['import-residents'], 'import-residents: missing <municipalityCode>'],
      [['import-residents', code], 'import-residents: missing <file>'],
      [['import-residents', code, 'residents.csv', '--foo', 'bar'], 'import-residents: unknown option --foo'],
      [['import-residents', code, 'residents.csv', 'extra'], 'import-residents: unexpected argument "extra"'],
      [['import-residents', code, 'residents.csv', '--mode', 'skip', '--mode', 'abort'], 'import-residents: --mode given twice'],
      [['import-residents', code, 'residents.csv', '--rejections'], 'import-residents: --rejections needs a value'],
      [['import-residents', code, 'residents.csv', '--mode', 'ignore'], 'import-residents: --mode must be skip or abort'],
      [['revert-migrations'], 'revert-migrations: missing <migration>'],
      [['revert-migrations', 'Foundation1795392000000', 'extra'], 'revert-migrations: unexpected argument "extra"'],
    ];
    for (const [args, problem] of refusals) {
      await expect(run(args)).rejects.toThrow(new RegExp(`^${problem.replace(/[<>]/g, '.')}\n\nUsage: npm run cli -- <command>\n`));
    }
  });

  it('re-wraps nothing, and says so, when no change of master key is under way', async () => {
    const saved = process.env.PREVIOUS_MASTER_KEY;
    delete process.env.PREVIOUS_MASTER_KEY;
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await expect(run(['rotate-master-key'])).rejects.toThrow(/^PREVIOUS_MASTER_KEY is not set, so no change of master key is under way and nothing was re-wrapped: /);
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      if (saved !== undefined) process.env.PREVIOUS_MASTER_KEY = saved;
    }
  });

  it('refuses a municipality code that is malformed, mistyped or of no municipality', async () => {
    for (const command of ['rotate-tenant-key', 'reencrypt-tenant-key']) {
      await expect(run([command, 'abc'])).rejects.toThrow('municipality code: must be 6 digits');
      await expect(run([command, '131017'])).rejects.toThrow('municipality code: check digit does not match (mistyped or misread code?)');
      // 479993: a right check digit, and no municipality.
      await expect(run([command, '479993'])).rejects.toThrow('municipality 479993 is not in the national list');
    }
    await expect(run(['verify-audit', '479993'])).rejects.toThrow('municipality 479993 is not in the national list');
  });

  it('refuses a word too many with the usage, instead of ignoring it', async () => {
    const { code } = await t.tenant();
    const loginId = `operator-${randomInt(1e9)}`;
    process.env.OPERATOR_PASSWORD = 'a-long-operator-password';
    for (const args of [['verify-audit', code, 'extra'], ['archive-audit', '30'], ['rotate-master-key', 'now'], ['create-operator', loginId, 'Operator'], ['rotate-tenant-key', code, code]]) {
      await expect(run(args)).rejects.toThrow(new RegExp(`^${args[0]}: unexpected argument "${args.at(-1)}"\n\nUsage: npm run cli -- <command>`));
    }
    expect(await t.db.query('SELECT 1 FROM account WHERE login_id = $1', [loginId])).toEqual([]);
  });

  it('refuses a retention that is no whole number of days from 1 to 36500', async () => {
    for (const days of ['1e300', '0', '2.5', 'ten', '36501']) {
      process.env.AUDIT_RETENTION_DAYS = days;
      try {
        await expect(archiveAudit()).rejects.toThrow(`AUDIT_RETENTION_DAYS must be a whole number from 1 to 36500, got "${days}"`);
      } finally {
        delete process.env.AUDIT_RETENTION_DAYS;
      }
    }
  });

  it('verifies the operation log and reports it intact', async () => {
    const { code } = await t.tenant();
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await verifyAudit(code);
      expect(log).toHaveBeenCalledWith(expect.stringMatching(/^Operation log intact: \d+ events verified\.$/));
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      log.mockRestore();
    }
  });

  it('imports a registry file from the shell and reports the result with the rejected lines', async () => {
    const { code } = await t.tenant();
    const dir = mkdtempSync(path.join(tmpdir(), 'vrs-cli-'));
    const file = path.join(dir, 'residents.csv');
    const good = registryRow({ family: '髙橋' });
    writeFileSync(file, iconv.encode(registryCsv([good, registryRow({ sex: '9' })]), 'cp932'));
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const report = path.join(dir, 'rejected.csv');
      await importResidents([code, file, '--mode', 'skip', '--encoding', 'sjis', '--rejections', report]);
      const lines = log.mock.calls.map(([line]) => line);
      expect(lines[0]).toMatch(new RegExp(`^Import [0-9a-f-]{36} into ${code} \\(Test city ${code}\\): SUCCEEDED in \\d+\\.\\d s$`));
      expect(lines).toContain('  rows read 2, accepted 1, rejected 1');
      expect(lines).toContain('  line 3 性別: INVALID_FORMAT unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE');
      expect(lines).toContain(`  every rejected row (1) written to ${report}`);
      // In the registry file's own encoding.
      expect(iconv.decode(readFileSync(report), 'cp932')).toBe('line,column,field,code,message\n3,性別,sex,INVALID_FORMAT,"unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE"\n');
      expect(process.exitCode ?? 0).toBe(0);
      // A report path that cannot be written stops the command before anything is imported.
      const jobs = async () => (await t.db.query('SELECT count(*)::int AS n FROM import_job WHERE municipality_code = $1', [code]))[0].n;
      const before = await jobs();
      await expect(importResidents([code, file, '--rejections', path.join(dir, 'no-such-dir', 'r.csv')])).rejects.toThrow(/no-such-dir\/r\.csv: cannot be written \(ENOENT\)/);
      await expect(importResidents([code, file, '--rejections', dir])).rejects.toThrow(`${dir}: cannot be written (not a file)`);
      // So does a file that is not there, or a folder.
      await expect(importResidents([code, path.join(dir, 'missing.csv')])).rejects.toThrow(/missing\.csv: cannot be read \(ENOENT\)/);
      await expect(importResidents([code, dir])).rejects.toThrow(`${dir}: not a file`);
      expect(await jobs()).toBe(before);
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await residentRows(t, code)).map((r) => [r.addressee_number, r.family_name])).toEqual([[good.addressee, '髙橋']]);
    const [audit] = await t.db.query(`SELECT channel, outcome FROM audit_event WHERE operation = 'resident.import' AND municipality_code = $1`, [code]);
    expect(audit).toEqual({ channel: 'CLI', outcome: 'SUCCESS' });
  });

  it('refuses a rejection report path that is the registry file itself, under any name, and leaves it whole', async () => {
    const { code } = await t.tenant();
    const dir = mkdtempSync(path.join(tmpdir(), 'vrs-cli-'));
    const file = path.join(dir, 'same.csv');
    const content = Buffer.from(registryCsv([registryRow()]));
    writeFileSync(file, content);
    symlinkSync(file, path.join(dir, 'link.csv'));
    linkSync(file, path.join(dir, 'hard.csv'));
    const cwd = process.cwd();
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      process.chdir(dir);
      for (const report of [file, 'same.csv', `../${path.basename(dir)}/same.csv`, 'link.csv', 'hard.csv']) {
        await expect(importResidents([code, file, '--mode', 'skip', '--rejections', report]))
          .rejects.toThrow(`${report}: is the registry file being imported; --rejections needs another file`);
        expect(readFileSync(file)).toEqual(content);
      }
      // Nor the other way round: the file imported named through a link to the report path.
      await expect(importResidents([code, 'link.csv', '--rejections', file])).rejects.toThrow('is the registry file being imported');
      expect(readFileSync(file)).toEqual(content);
      expect(log).not.toHaveBeenCalled();
    } finally {
      process.chdir(cwd);
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await residentRows(t, code)).toEqual([]);
  });

  it('leaves an earlier rejection report as it was when the job fails before its report, and replaces it whole when there is one', async () => {
    const { code } = await t.tenant();
    const dir = mkdtempSync(path.join(tmpdir(), 'vrs-cli-'));
    const report = path.join(dir, 'rejected.csv');
    writeFileSync(report, 'an earlier report\n');
    const empty = path.join(dir, 'empty.csv');
    writeFileSync(empty, '');
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await importResidents([code, empty, '--rejections', report]);
      expect(process.exitCode).toBe(1);
      expect(log).toHaveBeenCalledWith(`  the job failed before its report was written: nothing written to ${report}`);
      expect(readFileSync(report, 'utf8')).toBe('an earlier report\n');
      // A report path not yet there is not created for a job without a report.
      await importResidents([code, empty, '--rejections', path.join(dir, 'new.csv')]);
      expect(readdirSync(dir).sort()).toEqual(['empty.csv', 'rejected.csv']);
      process.exitCode = 0;

      const file = path.join(dir, 'residents.csv');
      writeFileSync(file, registryCsv([registryRow(), registryRow({ sex: '9' })]));
      await importResidents([code, file, '--mode', 'skip', '--rejections', report]);
      expect(process.exitCode ?? 0).toBe(0);
      expect(readFileSync(report, 'utf8')).toMatch(/^\uFEFF?line,column,field,code,message\n3,性別,sex,INVALID_FORMAT,/);
      // Written beside it, then renamed over it: nothing else is left in the folder.
      expect(readdirSync(dir).sort()).toEqual(['empty.csv', 'rejected.csv', 'residents.csv']);
    } finally {
      process.exitCode = 0;
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says no more than that when the interrupt also stops the embedded database under the import', async () => {
    mkdirSync('.data', { recursive: true });
    // Readable by the unprivileged user the embedded PostgreSQL runs as under root.
    const dir = mkdtempSync(path.resolve('.data', 'interrupted-'));
    chmodSync(dir, 0o755);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dir, EMBEDDED_PG_PORT: String(port) };
    delete env.DATABASE_URL;
    const file = path.join(dir, 'residents.csv');
    writeFileSync(file, registryCsv(Array.from({ length: 100_000 }, () => registryRow())));
    // Skipping bad rows: among 100,000 random My Numbers and ticket numbers two may well be alike,
    // which would fail the import on its own before the interrupt.
    const command = typescript('src/cli.ts', ['import-residents', '131016', file, '--mode', 'skip'], env);
    try {
      // Under way once its job runs, as the command's own database says.
      const running = async () => {
        // The password is written once the cluster is made.
        const password = () => readFileSync(path.join(dir, 'pg', 'vrs_owner.password'), 'utf8').trim();
        const client = new Client({ host: '127.0.0.1', port, user: 'vrs_owner', database: 'vrs', password });
        try {
          await client.connect();
          return (await client.query(`SELECT FROM import_job WHERE status = 'RUNNING'`)).rowCount! > 0;
        } catch {
          return false;
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      while (!(await running()) && command.process.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100));
      command.process.kill('SIGINT');
      // The import's connections, cut as the database stops, are no news for the operator.
      expect({ exit: await command.exited, stderr: command.stderr() }).toEqual({
        exit: 130, stderr: 'Stopped by the interrupt (Ctrl-C): the import into 131016 stopped; nothing was written. Run the same import-residents again to import the file\n',
      });
    } finally {
      command.process.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('says, when the operator interrupts an import, that it stopped and nothing was written', async () => {
    const { code } = await t.tenant();
    const dir = mkdtempSync(path.join(tmpdir(), 'vrs-cli-'));
    const file = path.join(dir, 'residents.csv');
    // Long enough to be under way when the interrupt comes.
    writeFileSync(file, registryCsv(Array.from({ length: 100_000 }, () => registryRow())));
    const running = async () => (await t.db.query(`SELECT count(*)::int AS n FROM import_job WHERE municipality_code = $1 AND status = 'RUNNING'`, [code]))[0].n;
    try {
      // Skipping bad rows, as below: two random numbers alike would fail the import before the interrupt.
      const command = typescript('src/cli.ts', ['import-residents', code, file, '--mode', 'skip'], process.env);
      while (await running() === 0 && command.process.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
      command.process.kill('SIGINT');
      expect(await command.exited).toBe(130);
      expect(command.stderr()).toContain(`Stopped by the interrupt (Ctrl-C): the import into ${code} stopped; nothing was written. Run the same import-residents again to import the file\n`);
      expect(command.stdout() + command.stderr()).not.toMatch(/unexpectedly/);
      // Nor does the log bury it under the traces of the connection the stop cut.
      expect(command.stderr()).not.toMatch(/"level":"(error|fatal)"/);
      expect(await residentRows(t, code)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('says, when the operator interrupts a key rotation while it waits, what is left and what to run', async () => {
    const { code } = await t.tenant();
    const command = typescript('src/cli.ts', ['rotate-tenant-key', code], process.env);
    await command.printed('Waiting ');
    command.process.kill('SIGINT');
    expect(await command.exited).toBe(130);
    expect(command.stderr()).toMatch(new RegExp(`^Stopped by the interrupt \\(Ctrl-C\\): municipality ${code} writes with key version \\d+, but what servers wrote meanwhile may still be under an older version, and its registry imports are refused until none is: run \`npm run cli -- reencrypt-tenant-key ${code}\`$`, 'm'));
  }, 60_000);

  it('says, when the operator interrupts a re-encryption under way, that residents are left under the older key and what to run', async () => {
    // A server under the command's own MASTER_KEY, so that the command opens the data key of the residents it registers.
    const own = await TestApp.start({ masterKey: Buffer.from(process.env.MASTER_KEY!, 'base64') });
    const holder = t.db.createQueryRunner();
    try {
      const { code, officer } = await own.tenant();
      const { id, input } = await registerResident(officer);
      const version = async () => (await t.db.query('SELECT max(key_version)::int AS v FROM tenant_key WHERE municipality_code = $1', [code]))[0].v;
      // An officer's edit holds the resident: the re-encryption waits for it, as it does for any row another transaction holds.
      await holder.startTransaction();
      await holder.query('SELECT FROM resident WHERE municipality_code = $1 AND id = $2 FOR UPDATE', [code, id]);
      const left = `run \`npm run cli -- reencrypt-tenant-key ${code}\``;
      const rotating = typescript('src/cli.ts', ['rotate-tenant-key', code], process.env);
      while (await version() < 2 && rotating.process.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 500));
      rotating.process.kill('SIGINT');
      expect(await rotating.exited).toBe(130);
      expect(rotating.stderr()).toContain(
        `Stopped by the interrupt (Ctrl-C): municipality ${code} writes with key version 2, but residents not re-encrypted yet are still under an older version, and its registry imports are refused until none is: ${left}\n`,
      );
      const started = new Date();
      const resuming = typescript('src/cli.ts', ['reencrypt-tenant-key', code], process.env);
      // Under way once a connection opened since asks for the residents still under an older version.
      const reencrypting = async () => (await t.db.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_start >= $1 AND query LIKE '%key_version < $2%'`, [started],
      ))[0].n > 0;
      while (!(await reencrypting()) && resuming.process.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 300));
      resuming.process.kill('SIGINT');
      expect(await resuming.exited).toBe(130);
      expect(resuming.stderr()).toContain(
        `Stopped by the interrupt (Ctrl-C): the re-encryption of ${code} stopped; residents not re-encrypted yet are still under an older version, and its registry imports are refused until none is: ${left}\n`,
      );
      await holder.rollbackTransaction();
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await run(['reencrypt-tenant-key', code]);
        expect(log).toHaveBeenCalledWith(`1 residents of ${code} re-encrypted; none is left under an older version.`);
      } finally {
        log.mockRestore();
      }
      expect(await t.db.query('SELECT key_version FROM resident WHERE id = $1', [id])).toEqual([{ key_version: 2 }]);
      expect((await officer.gql('query($id: ID!) { resident(id: $id) { myNumber } }', { id })).data.resident.myNumber).toBe(input.myNumber);
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
      await own.stop();
    }
  }, 60_000);

  /**
   * Runs the command until its database session waits on a lock the test holds, as it would read a
   * city's log for minutes, then interrupts it: how many such sessions it had, and how many are left 15 s on.
   */
  async function interruptedWhileWaiting(args: string[], env: NodeJS.ProcessEnv): Promise<{ exit: number | null; sessions: number; left: number }> {
    const started = new Date();
    const command = typescript('src/cli.ts', args, env);
    const waiting = async (): Promise<number[]> => (await t.db.query(
      `SELECT pid FROM pg_stat_activity WHERE backend_start >= $1 AND wait_event_type = 'Lock'`, [started],
    )).map((row: { pid: number }) => row.pid);
    let sessions: number[] = [];
    while ((sessions = await waiting()).length === 0 && command.process.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
    command.process.kill('SIGINT');
    const exit = await command.exited;
    const left = async () => (await t.db.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY ($1)', [sessions]))[0].n;
    const deadline = Date.now() + 15_000;
    while (await left() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    return { exit, sessions: sessions.length, left: await left() };
  }

  it('ends its database session within seconds when the operator interrupts a verification, rather than leaving it to run on', async () => {
    const { code } = await t.tenant();
    // Another run of the same series holds it.
    const other = t.db.createQueryRunner();
    await other.connect();
    const lock = [`audit-checkpoint:${code}`];
    try {
      await other.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', lock);
      expect(await interruptedWhileWaiting(['verify-audit', code], process.env)).toEqual({ exit: 130, sessions: 1, left: 0 });
    } finally {
      await other.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', lock);
      await other.release();
    }
  }, 60_000);

  it('ends its database session within seconds when the operator interrupts an archiving, rather than leaving it to run on', async () => {
    const { code } = await t.tenant();
    // The indexing of a chain holds its mark: the archiving waits for it.
    const indexing = t.db.createQueryRunner();
    await indexing.connect();
    try {
      await indexing.startTransaction();
      await indexing.query('INSERT INTO audit_target_mark (chain) VALUES ($1) ON CONFLICT (chain) DO NOTHING', [code]);
      await indexing.query('SELECT FROM audit_target_mark WHERE chain = $1 FOR UPDATE', [code]);
      // A retention no event has reached: nothing moves that other tests read.
      expect(await interruptedWhileWaiting(['archive-audit'], { ...process.env, AUDIT_RETENTION_DAYS: '36500' })).toEqual({ exit: 130, sessions: 1, left: 0 });
    } finally {
      await indexing.rollbackTransaction();
      await indexing.release();
    }
  }, 60_000);

  it('waits a whole minute from the new key version, however long a running import held the version back', async () => {
    const { code } = await t.tenant();
    // An import merging into the municipality: the new version waits for its commit.
    const importing = t.db.createQueryRunner();
    await importing.connect();
    const waitingForLock = async () => (await t.db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'`,
    ))[0].n > 0;
    let command: ReturnType<typeof typescript>;
    try {
      await importing.startTransaction();
      await lockKeyVersions(importing, code);
      command = typescript('src/cli.ts', ['rotate-tenant-key', code], process.env);
      while (!(await waitingForLock()) && command.process.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await importing.commitTransaction();
    } finally {
      await importing.release();
    }
    await command.printed('Waiting ');
    command.process.kill('SIGINT');
    expect(await command.exited).toBe(130);
    // Servers may have read the old version until the new one committed: each keeps it for a minute from then.
    expect(command.stdout()).toContain('Waiting 60 s until every server writes with the new version…');
  }, 60_000);

  it('shows the reading\'s ETA while the file is read, then the phase under way', () => {
    const reading = { phase: ImportPhase.RECEIVING, bytesRead: 250, rowsRead: 1000, rowsRejected: 2 };
    expect(progressFields(reading, 1000, 10)).toEqual({ rows: '1,000', rate: '100', remaining: 'reading ETA 30 s', phase: 'RECEIVING', rejected: '2' });
    expect(progressFields({ ...reading, bytesRead: 0, rowsRead: 0 }, 1000, 0).remaining).toBe('reading ETA -');
    expect(progressFields({ ...reading, phase: ImportPhase.MERGING, bytesRead: 1000 }, 1000, 40)).toMatchObject({ remaining: 'file read', phase: 'MERGING', rate: '25' });
    // As the bar prints them: none of the fields is overwritten by one of the bar's own.
    const printed = (bytes: number, fields: ReturnType<typeof progressFields>) => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (chunk) => (text += chunk));
      const bar = progressBar(out);
      bar.start(1000, bytes, fields);
      bar.stop();
      return text.trim();
    };
    expect(printed(250, progressFields(reading, 1000, 10))).toMatch(/ 25% of the file \| 1,000 rows \| 100 rows\/s \| reading ETA 30 s \| RECEIVING \| 2 rejected \| /);
    expect(printed(1000, progressFields({ ...reading, phase: ImportPhase.MERGING, bytesRead: 1000 }, 1000, 40)))
      .toMatch(/ 100% of the file \| 1,000 rows \| 25 rows\/s \| file read \| MERGING \| 2 rejected \| /);
  });
});
