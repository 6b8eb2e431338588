import 'reflect-metadata';
import pg from 'pg';
import { DataSource, Logger, MigrationExecutor } from 'typeorm';
import { Foundation1795392000000 } from '../../migrations/1795392000000-foundation';
import { VaccinationWorkflow1795400000000 } from '../../migrations/1795400000000-vaccination-workflow';
import { RegistryImport1795500000000 } from '../../migrations/1795500000000-registry-import';
import { Statistics1795600000000 } from '../../migrations/1795600000000-statistics';
import { Security1795700000000 } from '../../migrations/1795700000000-security';
import { RowLevelSecurity1795800000000 } from '../../migrations/1795800000000-row-level-security';
import { TicketIndex1795900000000 } from '../../migrations/1795900000000-ticket-index';
import { AuditLinkAtCommit1796000000000 } from '../../migrations/1796000000000-audit-link-at-commit';
import { PopulationByGroup1796100000000 } from '../../migrations/1796100000000-population-by-group';
import { TenantListPerStatement1796200000000 } from '../../migrations/1796200000000-tenant-list-per-statement';
import { ResidentMunicipalityPerStatement1796300000000 } from '../../migrations/1796300000000-resident-municipality-per-statement';
import { TicketResidentPerStatement1796400000000 } from '../../migrations/1796400000000-ticket-resident-per-statement';
import { FormatChecksWithoutCountedRegex1796500000000 } from '../../migrations/1796500000000-format-checks-without-counted-regex';
import { EligibilityGuessingAlert1796600000000 } from '../../migrations/1796600000000-eligibility-guessing-alert';
import { SharedDetectionWindows1796700000000 } from '../../migrations/1796700000000-shared-detection-windows';
import { TicketScanSweepAlert1796800000000 } from '../../migrations/1796800000000-ticket-scan-sweep-alert';
import { EveryRejectionListed1796900000000 } from '../../migrations/1796900000000-every-rejection-listed';
import { AuditArchiveCopyFirst1797000000000 } from '../../migrations/1797000000000-audit-archive-copy-first';
import { VenueAndDoctor1797100000000 } from '../../migrations/1797100000000-venue-and-doctor';
import { SeriesRange1797200000000 } from '../../migrations/1797200000000-series-range';
import { EligibilityMissesAlert1797300000000 } from '../../migrations/1797300000000-eligibility-misses-alert';
import { PasswordChange1797500000000 } from '../../migrations/1797500000000-password-change';
import { RecordReplaces1797700000000 } from '../../migrations/1797700000000-record-replaces';
import { StatsRebuildLocksFirst1797900000000 } from '../../migrations/1797900000000-stats-rebuild-locks-first';
import { AuditCheckpoint1798000000000 } from '../../migrations/1798000000000-audit-checkpoint';
import { ImportJobBackend1798300000000 } from '../../migrations/1798300000000-import-job-backend';
import { ImportDeadlockPatience1798200000000 } from '../../migrations/1798200000000-import-deadlock-patience';
import { ImportTicketsUpdated1798100000000 } from '../../migrations/1798100000000-import-tickets-updated';
import { KanaSearchWithoutSpaces1798310000000 } from '../../migrations/1798310000000-kana-search-without-spaces';
import { AuditLinkPerTransaction1798400000000 } from '../../migrations/1798400000000-audit-link-per-transaction';
import { DefinerFunctionsTempLast1798500000000 } from '../../migrations/1798500000000-definer-functions-temp-last';
import { KanaSearchUnderRowSecurity1798600000000 } from '../../migrations/1798600000000-kana-search-under-row-security';
import { ResidentStatusCleared1798700000000 } from '../../migrations/1798700000000-resident-status-cleared';
import { AuditSearchIndexes1798900000000 } from '../../migrations/1798900000000-audit-search-indexes';
import { RareSearchIndexes1799000000000 } from '../../migrations/1799000000000-rare-search-indexes';
import { ExportRegistrationIndexes1799000000001 } from '../../migrations/1799000000001-export-registration-indexes';
import { LoginIdAnyCase1799050000000 } from '../../migrations/1799050000000-login-id-any-case';
import { AuditSearchByTime1799100000000 } from '../../migrations/1799100000000-audit-search-by-time';
import { AccountListIndexes1799200000000 } from '../../migrations/1799200000000-account-list-indexes';
import { KanaSearchWithoutSeparators1799970000000 } from '../../migrations/1799970000000-kana-search-without-separators';
import { StatsRebuildEveryTenant1799980000000 } from '../../migrations/1799980000000-stats-rebuild-every-tenant';
import { RecordRequestKeyIndexDropped1800100000000 } from '../../migrations/1800100000000-record-request-key-index-dropped';
import { RegistryStatistics1800200000000 } from '../../migrations/1800200000000-registry-statistics';
import { UnfinishedImportIndex1800300000000 } from '../../migrations/1800300000000-unfinished-import-index';
import { MyNumberSweepAlert1800400000000 } from '../../migrations/1800400000000-my-number-sweep-alert';
import { ResidentUpdateTriggersOnePass1800530000000 } from '../../migrations/1800530000000-resident-update-triggers-one-pass';
import { Account } from '../entities/account.entity';
import { FunctionSuspension } from '../entities/function-suspension.entity';
import { SecurityAlert } from '../entities/security-alert.entity';
import { AuditEvent } from '../entities/audit-event.entity';
import { IntegratorContract } from '../entities/integrator-contract.entity';
import { ImportJob } from '../entities/import-job.entity';
import { ImportRejection } from '../entities/import-rejection.entity';
import { Municipality } from '../entities/municipality.entity';
import { PendingDose } from '../entities/pending-dose.entity';
import { Prefecture } from '../entities/prefecture.entity';
import { Resident } from '../entities/resident.entity';
import { TenantKey } from '../entities/tenant-key.entity';
import { Ticket } from '../entities/ticket.entity';
import { VaccinationRecord } from '../entities/vaccination-record.entity';
import type { Log } from '../log';
import { WaitingPool } from './pg-client';

export const entities = [Prefecture, Municipality, TenantKey, Account, Resident, Ticket, VaccinationRecord, AuditEvent,
  PendingDose, IntegratorContract, FunctionSuspension, SecurityAlert, ImportJob, ImportRejection];
export const migrations = [
  Foundation1795392000000, VaccinationWorkflow1795400000000, RegistryImport1795500000000, Statistics1795600000000, Security1795700000000,
  RowLevelSecurity1795800000000, TicketIndex1795900000000, AuditLinkAtCommit1796000000000,
  PopulationByGroup1796100000000, TenantListPerStatement1796200000000,
  ResidentMunicipalityPerStatement1796300000000, TicketResidentPerStatement1796400000000,
  FormatChecksWithoutCountedRegex1796500000000, EligibilityGuessingAlert1796600000000, SharedDetectionWindows1796700000000,
  TicketScanSweepAlert1796800000000,
  EveryRejectionListed1796900000000,
  AuditArchiveCopyFirst1797000000000,
  VenueAndDoctor1797100000000,
  SeriesRange1797200000000,
  EligibilityMissesAlert1797300000000,
  PasswordChange1797500000000,
  RecordReplaces1797700000000,
  StatsRebuildLocksFirst1797900000000,
  AuditCheckpoint1798000000000,
  ImportTicketsUpdated1798100000000,
  ImportDeadlockPatience1798200000000,
  ImportJobBackend1798300000000,
  KanaSearchWithoutSpaces1798310000000,
  AuditLinkPerTransaction1798400000000,
  DefinerFunctionsTempLast1798500000000,
  KanaSearchUnderRowSecurity1798600000000,
  ResidentStatusCleared1798700000000,
  AuditSearchIndexes1798900000000,
  RareSearchIndexes1799000000000,
  ExportRegistrationIndexes1799000000001,
  LoginIdAnyCase1799050000000,
  AuditSearchByTime1799100000000,
  AccountListIndexes1799200000000,
  KanaSearchWithoutSeparators1799970000000,
  StatsRebuildEveryTenant1799980000000,
  RecordRequestKeyIndexDropped1800100000000,
  RegistryStatistics1800200000000,
  UnfinishedImportIndex1800300000000,
  MyNumberSweepAlert1800400000000,
  ResidentUpdateTriggersOnePass1800530000000,
];

/** How long a connection is idle before TCP starts asking whether the server is still there. */
const KEEP_ALIVE_MS = 10_000;

/**
 * A `date` is read as PostgreSQL writes it (YYYY-MM-DD), the form the API carries dates in. pg makes
 * it the local midnight of the process's time zone, which does not exist on a day that zone skipped
 * (1994-12-31 in Pacific/Kiritimati, 2011-12-30 in Pacific/Apia): the date read back was the next day.
 */
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.DATE, (text: string) => text);

/**
 * Every session writes dates and times as ISO 8601, whatever datestyle the database, the role or
 * the server's configuration gives it: pg reads a timestamp only in that form (another, such as
 * 'SQL, DMY', read as null) and a date is passed on as written, and a time cast to text (a cursor)
 * is read back by the next statement. Set at start-up, it costs no statement, and overrides
 * ALTER DATABASE / ALTER ROLE … SET datestyle.
 */
const SESSION_DATESTYLE = '-c datestyle=ISO,YMD';

/**
 * The municipalities whose rows row-level security lets a session see, until a transaction sets its
 * own (tenant-session.ts): none, whatever `PGOPTIONS` says (a shell still holding the owner's
 * `vrs.tenants=*` for a backup).
 */
const NO_TENANTS = '-c vrs.tenants=';

/** The non-owner role the application works as; row-level security applies to it. */
export const APP_ROLE = 'vrs_app';

/**
 * The URL without its `options`, and the session settings every connection opens with: the
 * operator's (the URL's `options`, else `PGOPTIONS`, as libpq reads them) first, then ours, which
 * win where both set one. pg takes a URL's `options` instead of the ones it is given, and
 * `PGOPTIONS` only when given none: an operator's `options=-c statement_timeout=…` had made the
 * server work as the owner, past row-level security, with the database's datestyle.
 */
function sessionOptions(url: string, asApp: boolean): { url: string; options: string } {
  // No session starts with municipalities of its own: a request names its own in its transaction.
  const ours = [SESSION_DATESTYLE, NO_TENANTS, ...(asApp ? [`-c role=${APP_ROLE}`] : [])];
  // A socket directory and database ('/run/postgresql vrs') carry no options.
  const parsed = url.startsWith('/') ? null : new URL(url);
  const fromUrl = parsed?.searchParams.get('options');
  if (!parsed || fromUrl == null) return { url, options: [process.env.PGOPTIONS, ...ours].filter(Boolean).join(' ') };
  parsed.searchParams.delete('options');
  return { url: parsed.toString(), options: [fromUrl, ...ours].filter(Boolean).join(' ') };
}

/**
 * With `asApp`, every connection assumes the application role at start-up, so the server never
 * runs a query with the owner's rights; migrations and operator tools connect without it. With
 * `connectionWaitMs`, taking a connection fails after that long, whether every one of the pool is
 * busy or a new one does not open (the database hung, the network gone), instead of waiting for ever;
 * work run `patiently` (pg-client.ts) still waits as long as it takes.
 */
export function createDataSource(url: string, options: { logger?: Logger; poolSize?: number; asApp?: boolean; connectionWaitMs?: number } = {}): DataSource {
  const session = sessionOptions(url, options.asApp ?? false);
  return new DataSource({
    type: 'postgres',
    url: session.url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    logging: options.logger ? ['query'] : false,
    logger: options.logger,
    poolSize: options.poolSize ?? 20,
    driver: { ...pg, Pool: WaitingPool },
    extra: {
      // A connection whose server has vanished without a word (a network gone silent) is found
      // dead while idle, by the kernel's probes, instead of when it is next used.
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEP_ALIVE_MS,
      types,
      options: session.options,
      // Every connection is checked as it opens, not only the first: a pooler may hand the server
      // connections opened in more than one way.
      ...(options.asApp ? { onConnect: checkAppSession } : {}),
      ...(options.connectionWaitMs ? { connectionTimeoutMillis: options.connectionWaitMs } : {}),
    },
  });
}

/** The datestyle SESSION_DATESTYLE gives, as PostgreSQL shows it. */
const ISO_DATESTYLE = 'ISO, YMD';

/**
 * Refuses a connection of the application's that does not open as `createDataSource` asks with
 * `asApp`: something between the server and PostgreSQL dropped the `options` start-up parameter
 * (PgBouncer does with `ignore_startup_parameters = options`), and every query would run as the
 * connecting user, whom the tenant policies do not name (a superuser or owner with BYPASSRLS reads
 * every municipality's rows), writing dates in the database's datestyle. The server's first
 * connection is one of them, so it does not start.
 */
async function checkAppSession(client: pg.ClientBase): Promise<void> {
  const { rows: [{ role, datestyle }] } = await client.query(`SELECT current_user AS role, current_setting('datestyle') AS datestyle`);
  if (role === APP_ROLE && datestyle === ISO_DATESTYLE) return;
  throw new Error(`the database's connections open as ${role} with datestyle ${datestyle}, not as ${APP_ROLE} with ${ISO_DATESTYLE}: `
    + 'the options start-up parameter that sets them did not reach PostgreSQL (a connection pooler in between drops it, as PgBouncer does '
    + 'with ignore_startup_parameters = options). Row-level security would not apply, so the server refuses the connection, and does not start on it: point DATABASE_URL '
    + 'at PostgreSQL itself, or at a pooler that passes options on');
}

/** This version's migrations, oldest first, by the names the database records them under. */
const migrationNames = (dataSource: DataSource): string[] => dataSource.migrations.map((migration) => migration.name ?? migration.constructor.name);

/**
 * Refuses a database that holds migrations this code does not know: a newer version applied them
 * (a deploy rolled back, an old server restarted after a new one migrated). TypeORM applies what
 * is missing and says nothing of the rest, so the older code served a schema it was not written
 * for: a unique index it did not know of answered its writes with an internal error. Otherwise
 * returns the names of the migrations applied, newest first.
 */
async function refuseNewerSchema(dataSource: DataSource, executor: MigrationExecutor): Promise<string[]> {
  const known = new Set(migrationNames(dataSource));
  const applied = (await executor.getExecutedMigrations()).map((migration) => migration.name);
  const unknown = applied.filter((name) => !known.has(name));
  if (!unknown.length) return applied;
  const newest = migrationNames(dataSource).at(-1);
  throw new Error(`the database holds migrations this version does not know: ${unknown.join(', ')}. A newer version applied them, `
    + 'and this one does not start against a schema it was not written for: start the version that applied them, or revert them '
    + `with that version first (npm run cli -- revert-migrations ${newest})`);
}

/** The session lock held while migrating, and how often a process waiting for it asks again. */
const MIGRATION_LOCK = 'migrations';
const MIGRATION_RETRY_MS = 200;

/**
 * Applies pending migrations; each runs in its own transaction. Servers started at once on one
 * database take turns, and the later ones find nothing left to apply: TypeORM takes no lock of its
 * own, so each applied the same migrations and all but one failed to start ("relation "migrations"
 * already exists"). The lock is asked for again and again rather than waited on: a session waiting
 * on a lock holds a snapshot, which a migration's CREATE INDEX CONCURRENTLY would wait for for ever.
 * The migrations run on the session holding it, so one connection is enough. A server that waits
 * says so once in `log`, so that its start is not silent meanwhile. A database a newer version
 * migrated is refused before anything is applied.
 */
export async function migrate(dataSource: DataSource, log?: Log): Promise<void> {
  await inTurn(dataSource, log, async (executor) => {
    await refuseNewerSchema(dataSource, executor);
    await executor.executePendingMigrations();
  });
}

/**
 * Reverts, newest first, every migration applied after `to`, one of this version's, so that the
 * version whose newest migration is `to` can start again (a deploy rolled back). Each runs its
 * `down` in its own transaction, in the migrations' turn. Returns the names of those reverted.
 */
export async function revertMigrations(dataSource: DataSource, to: string, log?: Log): Promise<string[]> {
  const names = migrationNames(dataSource);
  if (!names.includes(to)) throw new Error(`${to} is no migration of this version, whose migrations run from ${names[0]} to ${names.at(-1)}`);
  return inTurn(dataSource, log, async (executor) => {
    // Newest first, as undoLastMigration takes them.
    const applied = await refuseNewerSchema(dataSource, executor);
    const at = applied.indexOf(to);
    if (at < 0) throw new Error(`${to} is not applied to this database: there is nothing after it to revert`);
    const reverted = applied.slice(0, at);
    for (const name of reverted) {
      await executor.undoLastMigration();
      log?.info(`migrations: reverted ${name}`);
    }
    return reverted;
  });
}

/** Runs `work` on a session holding the migrations' turn (see `migrate`). */
async function inTurn<T>(dataSource: DataSource, log: Log | undefined, work: (executor: MigrationExecutor) => Promise<T>): Promise<T> {
  const turn = dataSource.createQueryRunner();
  try {
    const take = async () => (await turn.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [MIGRATION_LOCK]))[0].locked as boolean;
    if (!(await take())) {
      log?.info('migrations: another server is migrating this database; waiting for its turn');
      while (!(await take())) await new Promise((resolve) => setTimeout(resolve, MIGRATION_RETRY_MS));
    }
    try {
      const executor = new MigrationExecutor(dataSource, turn);
      executor.transaction = 'each';
      return await work(executor);
    } finally {
      // The connection goes back to the pool with its session: the lock would go with it.
      await turn.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    await turn.release();
  }
}
