import 'reflect-metadata';
import { SingleBar } from 'cli-progress';
import { randomUUID } from 'node:crypto';
import { constants, createWriteStream, Stats } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { access, open, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { DataSource } from 'typeorm';
import { openDatabase } from './app';
import { Config, loadConfig } from './config';
import { ACTIVE_VERSION_TTL_MS } from './crypto/tenant-keyring';
import { InputError } from './errors';
import { createLog, Log } from './log';
import { createLoaders } from './loaders';
import type { ImportJob } from './entities/import-job.entity';
import { ImportMode, ImportPhase, ImportStatus, Role } from './schema/enums';
import type { ImportProgress } from './services/resident-import.service';
import { encodingNamed } from './validation/encodings';
import { checkMunicipalityCode } from './validation/identifiers';
import { endWithClient } from './db/pg-client';
import { revertMigrations } from './db/data-source';
import { createServices } from './services';
import { archiveAuditEvents, AuditSource, verifyAuditLog } from './services/audit.service';

const USAGE = `Usage: npm run cli -- <command>

Commands:
  help, --help, -h            Print this text (also after a command, which then does nothing)
  create-operator <loginId>   Create a system operator account (password from OPERATOR_PASSWORD or prompted)
  verify-audit [<code>|platform] [--expect <digest>]
                              Verify the operation log's hash chains (one municipality's, the platform's, or all)
                              and the signed checkpoints of earlier runs, then write a checkpoint and print its digest,
                              to keep outside the system; --expect fails unless that earlier digest is still among the
                              checkpoints; exits 1 and names the first break if any
  archive-audit               Move events older than AUDIT_RETENTION_DAYS (default 3653) to the archive
  rotate-tenant-key <code>    Start a new data key for one municipality and re-encrypt its My Numbers
  reencrypt-tenant-key <code> Re-encrypt what is still under an older key (resumes an interrupted rotation)
  rotate-master-key           Re-wrap under MASTER_KEY every data key still under PREVIOUS_MASTER_KEY (safe to re-run);
                              run it once every server has restarted with both set
  revert-migrations <migration>
                              Revert, newest first, every migration applied after the one named (the newest of the
                              version to go back to, which names it when it refuses to start), each by its down
  import-residents <municipalityCode> <file> [--mode skip|abort] [--encoding sjis|utf8] [--rejections <report.csv>]
                              Import a resident registry CSV into a municipality (default: --mode abort, encoding detected);
                              --rejections writes every rejected row's line, column and reason to a CSV file
`;

/**
 * A command line that cannot be what the operator meant: nothing is done, the problem is named
 * on one line, then the usage follows; the command exits 2, as a wrong command line conventionally does.
 */
export class UsageError extends Error {
  constructor(problem: string) {
    super(`${problem}\n\n${USAGE}`);
  }
}

/**
 * What an interrupted command (Ctrl-C, SIGTERM, SIGHUP) has left, and what to run: set by a command
 * while it is under way, said at once when the signal comes.
 */
let ifInterrupted: string | null = null;
/** The command's log (its diagnostics, as a server's), one for the whole command: see logFor. */
let commandLog: Log | undefined;

function logFor(config: Config): Log {
  return (commandLog ??= createLog(config.logLevel));
}

/** The services a command uses, writing to the command's log. */
const servicesFor = (db: DataSource, config: Config) => createServices(db, config, logFor(config));

let interruptedBy: NodeJS.Signals | null = null;

/**
 * Says what `ifInterrupted` holds, first among the signal's handlers; the embedded database's own
 * (src/db/embedded-postgres.ts) then stops it and ends the process with 128 + the signal's number,
 * as this one does when there is none (an external database).
 */
export function sayWhenInterrupted(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.prependListener(signal, () => {
      interruptedBy ??= signal;
      const by = signal === 'SIGINT' ? 'the interrupt (Ctrl-C)' : signal;
      if (ifInterrupted) console.error(`Stopped by ${by}: ${ifInterrupted}`);
      ifInterrupted = null;
      // What fails from now on fails because the database stops with the command (the import's
      // connection cut, its end unrecorded): traces of that would bury what was just said.
      console.error = () => undefined;
      if (commandLog) commandLog.level = 'silent';
      if (process.listenerCount(signal) === 1) process.exit(128 + osConstants.signals[signal]);
    });
  }
}

async function readPassword(): Promise<string> {
  if (process.env.OPERATOR_PASSWORD) return process.env.OPERATOR_PASSWORD;
  // Without a terminal the prompt would wait on input that never comes, and the command end as if done.
  if (!process.stdin.isTTY) throw new Error('set OPERATOR_PASSWORD, or run the command in a terminal to be asked for the password');
  const first = await askHidden('Password (12 to 256 characters): ');
  if (first !== await askHidden('Same password again: ')) throw new Error('the two passwords differ; nothing was created');
  return first;
}

/** One line read from the terminal without echoing it: the prompt is shown, what is typed is not. */
async function askHidden(prompt: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, encoding, done) {
      if (!muted) process.stdout.write(chunk, encoding);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = rl.question(prompt);
    muted = true;
    return await answer;
  } finally {
    rl.close();
    process.stdout.write('\n');
  }
}

export async function createOperator(loginId: string | undefined): Promise<void> {
  if (!loginId) throw new UsageError('create-operator: missing <loginId>');
  const password = await readPassword();
  const account = await withDatabase(({ db }, config) => servicesFor(db, config).accounts.create(
    cliSource(),
    { loginId, password, role: Role.OPERATOR, displayName: `Operator ${loginId}` },
    // Whoever runs the command typed the password: it is already the holder's own.
    { chosenByHolder: true },
  ));
  console.log(`Created operator ${account.loginId} (${account.id}).`);
}

/** Opens the configured database for one command and closes it afterwards. */
async function withDatabase<T>(run: (database: Awaited<ReturnType<typeof openDatabase>>, config: Config) => Promise<T>, options?: { asOwner?: boolean; asIs?: boolean }): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase(config, { ...options, log: logFor(config) });
  try {
    return await run(database, config);
  } finally {
    await database.close();
  }
}

/** A municipality code given on the command line, well-formed and with its check digit right. */
function municipalityArg(command: string, raw: string | undefined): string {
  if (!raw) throw new UsageError(`${command}: missing <code>`);
  const code = checkMunicipalityCode(raw);
  if (!code.ok) throw new Error(`municipality code: ${code.message}`);
  return code.value;
}

/** The municipality's name; a code no municipality has stops the command. */
async function municipalityName(db: DataSource, code: string): Promise<string> {
  const found = await db.query('SELECT name FROM municipality WHERE code = $1', [code]);
  if (found.length === 0) throw new Error(`municipality ${code} is not in the national list`);
  return found[0].name;
}

/** Takes `--name <value>` out of `args`. */
function option(command: string, args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return undefined;
  const value = args[i + 1];
  if (!value || value.startsWith('--')) throw new UsageError(`${command}: --${name} needs a value`);
  args.splice(i, 2);
  if (args.includes(`--${name}`)) throw new UsageError(`${command}: --${name} given twice`);
  return value;
}

/** What is left once the options a command knows are taken out: an option still there is none it knows. */
function positional(command: string, args: string[], names: string[]): (string | undefined)[] {
  const unknown = args.find((arg) => arg.startsWith('--'));
  if (unknown) throw new UsageError(`${command}: unknown option ${unknown}`);
  if (args.length > names.length) throw new UsageError(`${command}: unexpected argument "${args[names.length]}"`);
  return names.map((name, i) => args[i] ?? (name.startsWith('[') ? undefined : missing(command, name)));
}

function missing(command: string, name: string): never {
  throw new UsageError(`${command}: missing ${name}`);
}

/**
 * Where `--rejections` writes, checked before the import starts but left untouched until there
 * is a report: a job that fails leaves an earlier report as it was. Never the registry file
 * itself, under whatever name (a link, a relative path): it would be lost.
 */
async function reportTarget(reportFile: string, input: Stats): Promise<string> {
  const unwritable = (why: string) => new Error(`${reportFile}: cannot be written (${why})`);
  const reason = (error: NodeJS.ErrnoException) => unwritable(error.code ?? error.message);
  const existing = await stat(reportFile).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw reason(error);
  });
  if (existing && existing.dev === input.dev && existing.ino === input.ino) {
    throw new Error(`${reportFile}: is the registry file being imported; --rejections needs another file`);
  }
  if (existing && !existing.isFile()) throw unwritable('not a file');
  const named = <T>(step: Promise<T>) => step.catch((error: NodeJS.ErrnoException) => {
    throw reason(error);
  });
  // A link is written through, as opening it would: the file it names is replaced.
  const target = existing ? await realpath(reportFile) : path.join(await named(realpath(path.dirname(reportFile))), path.basename(reportFile));
  // The report is written beside it first, then renamed over it.
  await named(access(path.dirname(target), constants.W_OK));
  if (existing) await named(access(target, constants.W_OK));
  return target;
}

/** Writes a file whole or not at all: into a new file beside it, renamed over it once complete. */
async function writeWhole(target: string, write: (out: Writable) => Promise<void>): Promise<void> {
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.${randomUUID()}.part`);
  const out = createWriteStream(partial, { flags: 'wx' });
  try {
    await once(out, 'open');
    await write(out);
    out.end();
    await finished(out);
    await rename(partial, target);
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}

/**
 * What the import's progress bar shows besides the share of the file read. The ETA is the
 * reading's: checking and merging follow it and take from half as long again (an unchanged file)
 * to three times as long (a file of new residents), so once the file is read the bar names the
 * phase under way, beside the time taken in all.
 */
export function progressFields(p: ImportProgress, bytesTotal: number, seconds: number) {
  const reading = p.phase === ImportPhase.RECEIVING;
  const left = reading && p.bytesRead > 0 ? Math.ceil(((bytesTotal - p.bytesRead) * seconds) / p.bytesRead) : null;
  return {
    rows: p.rowsRead.toLocaleString('en-US'),
    rate: seconds > 0 ? Math.round(p.rowsRead / seconds).toLocaleString('en-US') : '0',
    // Not `eta`: the progress bar fills that placeholder with its own estimate.
    remaining: !reading ? 'file read' : left === null ? 'reading ETA -' : `reading ETA ${left} s`,
    phase: p.phase,
    rejected: p.rowsRejected.toLocaleString('en-US'),
  };
}

/** The import's progress bar, on standard error unless `stream` is given. */
export function progressBar(stream?: NodeJS.WritableStream): SingleBar {
  return new SingleBar({
    format: '{bar} {percentage}% of the file | {rows} rows | {rate} rows/s | {remaining} | {phase} | {rejected} rejected | {duration_formatted} in all',
    hideCursor: true,
    ...(stream && { stream, noTTYOutput: true, notTTYSchedule: 0 }),
  });
}

/**
 * The operator's shell is trusted like the server itself (it holds MASTER_KEY), so no account is
 * asked for; the import is still logged, with channel CLI.
 */
export async function importResidents(args: string[]): Promise<void> {
  const rest = [...args];
  const command = 'import-residents';
  const mode = (option(command, rest, 'mode') ?? 'abort').toUpperCase();
  const encodingArg = option(command, rest, 'encoding');
  const reportFile = option(command, rest, 'rejections');
  const [codeArg, file] = positional(command, rest, ['<municipalityCode>', '<file>']) as [string, string];
  if (mode !== ImportMode.ABORT && mode !== ImportMode.SKIP) throw new UsageError(`${command}: --mode must be skip or abort`);
  const encoding = encodingArg === undefined ? null : encodingNamed(encodingArg);
  if (encoding === undefined) throw new UsageError(`${command}: --encoding must be sjis or utf8`);
  const code = municipalityArg(command, codeArg);
  // Checked first: a file that cannot be read, or a report path that cannot be written, stops the
  // command before it imports anything.
  const input = await open(file).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`${file}: cannot be read (${error.code ?? error.message})`);
  });
  const inputStat = await input.stat();
  if (!inputStat.isFile()) {
    await input.close();
    throw new Error(`${file}: not a file`);
  }
  const size = inputStat.size;
  const report = reportFile ? await reportTarget(reportFile, inputStat).catch(async (error) => {
    await input.close();
    throw error;
  }) : null;

  await withDatabase(async (database, config) => {
    const name = await municipalityName(database.db, code);
    const services = servicesFor(database.db, config);
    const bar = progressBar();
    const started = Date.now();
    bar.start(size, 0, progressFields({ phase: ImportPhase.RECEIVING, bytesRead: 0, rowsRead: 0, rowsRejected: 0 }, size, 0));
    let job: ImportJob;
    // One transaction: stopped anywhere before its end, it writes nothing.
    ifInterrupted = `the import into ${code} stopped; nothing was written. Run the same import-residents again to import the file`;
    try {
      const running = await services.imports.start(
        { requestId: randomUUID(), channel: 'CLI', actor: null, municipalityCode: code },
        input.createReadStream(),
        { mode: mode as ImportMode, encoding, bytesTotal: size },
        (p) => bar.update(p.bytesRead, progressFields(p, size, (Date.now() - started) / 1000)),
      );
      job = await running.done;
    } finally {
      ifInterrupted = null;
      // The terminal gets its cursor back whatever happened.
      bar.stop();
    }
    // Failed because the database stopped with the command: the interrupt already said so.
    if (interruptedBy && job.status !== ImportStatus.SUCCEEDED) return;
    const seconds = (Date.now() - started) / 1000;
    console.log(`Import ${job.id} into ${code} (${name}): ${job.status} in ${seconds.toFixed(1)} s`);
    console.log(`  rows read ${job.rowsRead}, accepted ${job.rowsAccepted}, rejected ${job.rowsRejected}`);
    console.log(`  residents inserted ${job.residentsInserted}, updated ${job.residentsUpdated}; tickets inserted ${job.ticketsInserted}, updated ${job.ticketsUpdated}`);
    if (job.failureReason) console.log(`  ${job.failureReason}`);
    const rejections = await services.imports.rejectionsOf(createLoaders(async () => database.db.manager), job, 20, null);
    for (const r of rejections.nodes) console.log(`  line ${r.line} ${r.column || '-'}: ${r.code} ${r.message}`);
    if (report && rejections.complete) {
      // In the encoding the registry file came in, for the same tools to open.
      await writeWhole(report, (out) => services.imports.writeRejections(job, job.encoding ?? 'UTF8', out));
      console.log(`  every rejected row (${job.rejectionsListed}) written to ${reportFile}`);
    } else if (report) {
      console.log(`  the job failed before its report was written: nothing written to ${reportFile}`);
    }
    if (!report && rejections.hasNextPage) {
      console.log(`  … more rejections: --rejections <file>, GET /imports/residents/${job.id}/rejections.csv or importJob(id) { rejections } over LG-WAN`);
    }
    if (job.status !== ImportStatus.SUCCEEDED) process.exitCode = 1;
  });
}

export async function verifyAudit(...args: string[]): Promise<void> {
  const rest = [...args];
  const expect = option('verify-audit', rest, 'expect');
  const [chainArg] = positional('verify-audit', rest, ['[<code>|platform]']);
  if (expect !== undefined && !/^[0-9a-f]{32}$/i.test(expect)) throw new Error('verify-audit: --expect takes the 32 hexadecimal digits an earlier verify-audit printed');
  const code = chainArg === undefined || chainArg === 'platform' ? null : checkMunicipalityCode(chainArg);
  if (code && !code.ok) {
    // Six digits starting with a prefecture were meant as a municipality code: say what is wrong with it.
    if (code.reason === 'checkDigit') throw new Error(`verify-audit: municipality code "${chainArg}": ${code.message}`);
    throw new Error(`verify-audit: "${chainArg}" is neither a municipality code nor platform`);
  }
  const chain = code?.ok ? code.value : chainArg;
  const { checked, broken, checkpointsBroken, checkpoint, handedOver } = await withDatabase(async ({ db }, config) => {
    // A municipality that does not exist has no chain to call intact.
    if (code?.ok) await municipalityName(db, code.value);
    return verifyAuditLog(db, config, { chain, expect });
  });
  if (checkpoint) {
    console.log(`Operation log intact: ${checked} events verified.`);
    if (handedOver.length) console.log(`Checkpoints of ${handedOver.join(', ')} handed over to the new MASTER_KEY.`);
    console.log(`Checkpoint ${checkpoint.position} of ${checkpoint.scope} written (${checkpoint.verified} before it verified); keep its digest outside the system, for --expect:`);
    console.log(checkpoint.digest);
    return;
  }
  if (broken) {
    const where = broken.id === null ? `in chain ${broken.chain}` : `at event ${broken.id} (chain ${broken.chain}, position ${broken.seq})`;
    console.error(`Operation log BROKEN ${where}: ${broken.reason}. ${checked} events checked.`);
  }
  if (checkpointsBroken) console.error(`Operation log checkpoints BROKEN: ${checkpointsBroken}.`);
  process.exitCode = 1;
}

/** Runs as the database owner: the application role may not move events out of the log. */
export async function archiveAudit(): Promise<void> {
  const { moved, cutoff } = await withDatabase(async ({ db }, config) => {
    const cutoff = new Date(Date.now() - (config.auditRetentionDays ?? 3653) * 86_400_000);
    // One statement moving every event past the cutoff: stopped, it moves none, rather than all once it ends.
    const moved = await db.transaction(async (tx) => {
      await endWithClient(tx, true);
      return archiveAuditEvents(tx, cutoff);
    });
    return { moved, cutoff };
  }, { asOwner: true });
  console.log(`Archived ${moved} events older than ${cutoff.toISOString()}.`);
}

/** The operator's shell, as the operation log names it: one request id per command. */
function cliSource(): AuditSource {
  return { requestId: randomUUID(), channel: 'CLI', actor: null };
}

/**
 * Rotates, re-encrypts, then waits until every server has noticed the new version (they check
 * once a minute) and re-encrypts what they wrote under the old one meanwhile. Until none is
 * left, the municipality's registry imports are refused; `reencrypt-tenant-key` resumes.
 */
async function rotateTenantKey(codeArg: string | undefined): Promise<void> {
  const code = municipalityArg('rotate-tenant-key', codeArg);
  await withDatabase(async ({ db }, config) => {
    await municipalityName(db, code);
    const rotation = servicesFor(db, config).keyRotation;
    const source = cliSource();
    const version = await rotation.newKeyVersion(source, code);
    // Counted from the new version's commit, not the command's start: the version may have waited for an import to commit.
    const created = Date.now();
    // Each batch commits on its own: a city's first pass takes minutes, and one stopped leaves the rest under the old key.
    ifInterrupted = `municipality ${code} writes with key version ${version}, but ${underOlderKey(code)}`;
    const reencrypted = await rotation.reencrypt(source, code);
    console.log(`Municipality ${code} now writes with key version ${version}; ${reencrypted} residents re-encrypted.`);
    const wait = Math.max(0, ACTIVE_VERSION_TTL_MS - (Date.now() - created));
    console.log(`Waiting ${Math.ceil(wait / 1000)} s until every server writes with the new version…`);
    ifInterrupted = `municipality ${code} writes with key version ${version}, but what servers wrote meanwhile may still be under an older version, and its registry imports are refused until none is: run \`npm run cli -- reencrypt-tenant-key ${code}\``;
    await new Promise((resolve) => setTimeout(resolve, wait));
    const moved = await rotation.reencrypt(source, code);
    ifInterrupted = null;
    console.log(`${moved} more residents re-encrypted; none is left under an older version.`);
  });
}

/** What a re-encryption stopped before its end leaves, and what finishes it. */
const underOlderKey = (code: string) =>
  `residents not re-encrypted yet are still under an older version, and its registry imports are refused until none is: run \`npm run cli -- reencrypt-tenant-key ${code}\``;

async function reencryptTenantKey(codeArg: string | undefined): Promise<void> {
  const code = municipalityArg('reencrypt-tenant-key', codeArg);
  const moved = await withDatabase(async ({ db }, config) => {
    await municipalityName(db, code);
    ifInterrupted = `the re-encryption of ${code} stopped; ${underOlderKey(code)}`;
    try {
      return await servicesFor(db, config).keyRotation.reencrypt(cliSource(), code);
    } finally {
      ifInterrupted = null;
    }
  });
  console.log(`${moved} residents of ${code} re-encrypted; none is left under an older version.`);
}

/**
 * Run after every server has restarted with MASTER_KEY=<new key> and PREVIOUS_MASTER_KEY=<old key>:
 * from then on no server creates a data key under the old one, so none is left behind.
 */
export async function rotateMasterKey(): Promise<void> {
  // The former way (re-wrap first, restart after) let servers still on the old key create keys the re-wrap never saw.
  if (process.env.NEW_MASTER_KEY) {
    throw new Error('NEW_MASTER_KEY is no longer read: restart every server with MASTER_KEY=<new key> and PREVIOUS_MASTER_KEY=<old key>, then run rotate-master-key with the same two settings');
  }
  // Without it no change of master key is under way: "re-wrapped 0, PREVIOUS_MASTER_KEY can be removed" would mislead.
  if (!process.env.PREVIOUS_MASTER_KEY) {
    throw new Error('PREVIOUS_MASTER_KEY is not set, so no change of master key is under way and nothing was re-wrapped: to change it, restart every server with MASTER_KEY=<new key> and PREVIOUS_MASTER_KEY=<old key>, then run rotate-master-key with the same two settings');
  }
  const { rewrapped, unchanged } = await withDatabase(({ db }, config) => servicesFor(db, config).keyRotation.rotateMasterKey(cliSource()));
  console.log(`Re-wrapped ${rewrapped} data keys under MASTER_KEY; ${unchanged} were under it already. Run verify-audit once with the same two settings (it hands every series of checkpoints over to the new key); PREVIOUS_MASTER_KEY can then be removed from every server.`);
}

/** Reverts the migrations after the one named, so that the older version whose newest it is can start. */
export async function revertMigrationsTo(args: string[]): Promise<void> {
  const [to] = positional('revert-migrations', args, ['<migration>']) as [string];
  const reverted = await withDatabase(({ db }, config) => revertMigrations(db, to, logFor(config)), { asOwner: true, asIs: true });
  console.log(reverted.length ? `Reverted ${reverted.length} migrations: ${reverted.join(', ')}. ${to} is the newest applied.` : `${to} is the newest applied already: nothing was reverted.`);
}

/**
 * Each command with how many plain arguments it takes (verify-audit and import-residents read their
 * own options), and what runs it.
 */
const COMMANDS: Record<string, { most?: number; run: (args: string[]) => Promise<void> }> = {
  'create-operator': { most: 1, run: (args) => createOperator(args[0]) },
  'verify-audit': { run: (args) => verifyAudit(...args) },
  'archive-audit': { most: 0, run: () => archiveAudit() },
  'rotate-tenant-key': { most: 1, run: (args) => rotateTenantKey(args[0]) },
  'reencrypt-tenant-key': { most: 1, run: (args) => reencryptTenantKey(args[0]) },
  'rotate-master-key': { most: 0, run: () => rotateMasterKey() },
  'import-residents': { run: (args) => importResidents(args) },
  'revert-migrations': { run: (args) => revertMigrationsTo(args) },
};

/** Runs the command `npm run cli -- <command> <arguments>` names. */
export async function run([command, ...args]: string[]): Promise<void> {
  if (command === undefined || command === '') throw new UsageError('a command is needed');
  // `<command> --help` is asked as `help` is: nothing runs, no password is asked for, and -h is taken
  // for no login id, municipality code or file.
  const helpOption = (arg: string) => arg === '--help' || arg === '-h';
  const known = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (command === 'help' || helpOption(command) || (known && args.some(helpOption))) {
    console.log(USAGE);
    return;
  }
  if (!known) throw new UsageError(`unknown command "${command}"`);
  // A word too many may be what the operator meant to say: it is pointed out, not ignored.
  if (known.most !== undefined) {
    const unknown = args.find((arg) => arg.startsWith('--'));
    if (unknown) throw new UsageError(`${command}: unknown option ${unknown}`);
    if (args.length > known.most) throw new UsageError(`${command}: unexpected argument "${args[known.most]}"`);
  }
  return known.run(args);
}

if (require.main === module) {
  sayWhenInterrupted();
  // Exited explicitly, with the command's code (1 after a broken log or a failed import): nothing
  // left open, a pool or the embedded database's process, keeps the command from ending.
  run(process.argv.slice(2)).then(() => process.exit(process.exitCode ?? 0), (error) => {
    if (error instanceof InputError) console.error(error.errors.map((e) => `${e.field.join('.')}: ${e.message}`).join('\n'));
    else console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
