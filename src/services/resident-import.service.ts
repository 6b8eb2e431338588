import { GraphQLError } from 'graphql';
import iconv from 'iconv-lite';
import { randomUUID } from 'node:crypto';
import { Readable, Transform, TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource, EntityManager } from 'typeorm';
import { Context } from '../context';
import { TenantKeyring, TenantKeys } from '../crypto/tenant-keyring';
import { copyCsv, spreadsheetText } from '../db/csv-copy';
import { connectionLost, crossedAnother, endWithClient, patiently, queryable, withClient } from '../db/pg-client';
import { lockRegistry } from '../db/registry-lock';
import { setTenants } from '../db/tenant-session';
import { PlatformFunction } from '../entities/function-suspension.entity';
import { ImportJob } from '../entities/import-job.entity';
import { ImportRejection } from '../entities/import-rejection.entity';
import { checkPageSize } from '../errors';
import { Loaders } from '../loaders';
import { Log } from '../log';
import { applyScope, ownMunicipalityFor, refusal, scopeOf } from '../policies/scope';
import { ImportMode, ImportPhase, ImportStatus } from '../schema/enums';
import { todayInJapan } from '../validation/dates';
import { FileEncoding } from '../validation/encodings';
import { isUuid } from '../validation/identifiers';
import { wardCodes } from '../validation/own-codes';
import { AuditSource, auditSourceParams, loggedInBatches, writeAudit } from './audit.service';
import { PendingDoseService } from './pending-dose.service';
import { SuspensionService } from './suspension.service';
import { Chunk, ChunkFailure, RecordCutter, stageChunk } from './resident-import.chunk';
import { ColumnName, COLUMNS, Layout, RowRules, STAGING_COLUMNS } from './resident-import.layout';
import type { WorkerResult } from './resident-import.worker';
import { StagingWorkers, WorkerCrash } from './resident-import.workers';


/** Who runs an import: an officer's request, or an operator's shell (CLI). */
export interface ImportPrincipal extends AuditSource {
  municipalityCode: string;
}

export interface ImportOptions {
  mode: ImportMode;
  /** null: detected from the first bytes (a BOM or valid UTF-8 means UTF-8, anything else Shift_JIS). */
  encoding?: FileEncoding | null;
  bytesTotal?: number | null;
}

export interface ImportProgress {
  phase: ImportPhase;
  bytesRead: number;
  rowsRead: number;
  rowsRejected: number;
}

export interface RunningImport {
  job: ImportJob;
  /** Settles once the whole file has been read and staged (or the job has ended). */
  received: Promise<void>;
  /** The job as it ended; never rejects. */
  done: Promise<ImportJob>;
}

/** Rejection reports kept per municipality, the latest imports' (older jobs keep their counts). */
const REPORTS_KEPT = 10;
/** The largest page of a rejection report. */
const MAX_REJECTIONS_PAGE = 1000;
const PROGRESS_EVERY_MS = 250;
const HEARTBEAT_MS = 10_000;
/** A RUNNING job whose process has not reported for this long has died; it wrote nothing. */
export const STALE_AFTER_MS = 120_000;
/**
 * A RUNNING job whose database session is gone, and whose process has not reported for this long,
 * has died: its transaction went with the session. (A job that failed has ended its session a
 * moment before it records why; a live process reports every HEARTBEAT_MS.)
 */
const SESSION_GONE_AFTER_MS = 2 * HEARTBEAT_MS;
const STALE_REASON = 'the import stopped unexpectedly; nothing was written';
const CROSSED_REASON = 'the import and another change to the same residents waited on each other, and the database stopped the import; nothing was written, run the import again';
const LOST_REASON = 'the connection to the database was lost while the import ran (a restart or a failover of the database); nothing was written, run the import again';
/**
 * How long the import waits on a lock before PostgreSQL looks for a deadlock (1 s for everyone
 * else): an officer's request crossing it is the one stopped, and sent again at once.
 */
const DEADLOCK_PATIENCE = '5s';
/** Chunks handed to worker threads and not yet written to COPY: bounds memory and keeps order cheap. */
const MAX_IN_FLIGHT = 6;
/** Staged rows past which the checks and the merge get more sort memory. */
const LARGE_FILE_ROWS = 100_000;
/** Residents and tickets written past which the import refreshes the planner's statistics of both tables. */
const ANALYZE_AFTER_ROWS = 1_000;
/** Below this many bytes the file is staged on the request's own thread (workers cost a start-up). */
const WORKER_THRESHOLD_BYTES = 1024 * 1024;
/** How long a stopping server waits for its imports to end (one merging a city's file may take a minute). */
const DRAIN_MS = 60_000;
/** What a job the server stopped under says, once its transaction went with the database's connections. */
const STOPPED_UNDER = 'resident import: the server stopped before the job\'s end was recorded; the job reads as FAILED within 20 s, and is recorded so at the next start or before the municipality\'s next import';

/** A failure whose message is written for the officer (no data values, no internals). */
class ImportFailure extends Error {}

/** What the upload's stream fails with when its client goes away before the end of the file. */
export class UploadInterrupted extends Error {
  constructor() {
    super('upload interrupted');
  }
}

/**
 * Counts bytes, settles the encoding, and hands UTF-8 to the CSV parser. ASCII reads the same in
 * both encodings, so an undeclared file is judged on its first chunk holding a BOM or any other
 * byte above 0x7f: an upload may well send an English header on its own first. A chunk whose only
 * such bytes start a character it cuts off proves nothing (a Shift_JIS lead byte starts a UTF-8
 * character too): that character is held back and judged with the bytes that follow.
 */
class FileDecoder extends Transform {
  private decoder: { write(b: Buffer): string; end(): string | undefined } | null = null;
  private held: Buffer | null = null;

  constructor(private encoding: FileEncoding | null, private readonly onChunk: (bytes: number, encoding: FileEncoding) => void) {
    super();
    if (encoding === 'SJIS') this.decoder = iconv.getDecoder('cp932');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let bytes = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = null;
    if (!this.encoding && bytes.some((b) => b > 0x7f) && !this.settle(detectEncoding(bytes, false))) {
      // The ASCII before it reads alike in both encodings: only the character cut off waits.
      const from = bytes.findIndex((b) => b > 0x7f);
      this.held = Buffer.from(bytes.subarray(from));
      bytes = bytes.subarray(0, from);
    }
    this.onChunk(chunk.length, this.encoding ?? 'UTF8');
    done(null, this.decoded(bytes));
  }

  override _flush(done: TransformCallback): void {
    const out: Buffer[] = [];
    if (this.held) {
      // The file ends in the character the held bytes cut off: nothing more will decide it.
      this.settle(detectEncoding(this.held, true));
      this.onChunk(0, this.encoding!);
      const held = this.decoded(this.held);
      if (held) out.push(held);
    }
    const rest = this.decoder?.end();
    if (rest) out.push(Buffer.from(rest));
    done(null, out.length ? Buffer.concat(out) : undefined);
  }

  /** Takes the encoding judged, if any; whether there was one. */
  private settle(encoding: FileEncoding | null): boolean {
    if (!encoding) return false;
    this.encoding = encoding;
    if (encoding === 'SJIS') this.decoder = iconv.getDecoder('cp932');
    return true;
  }

  /** `bytes` as UTF-8. */
  private decoded(bytes: Buffer): Buffer | undefined {
    if (!this.decoder) return bytes.length ? bytes : undefined;
    const text = this.decoder.write(bytes);
    return text ? Buffer.from(text) : undefined;
  }
}

/**
 * A chunk holding a BOM or valid UTF-8 is UTF-8; anything else Shift_JIS. null: the chunk is valid
 * UTF-8 but its only characters beyond ASCII are cut off at its end, which the next bytes decide.
 */
function detectEncoding(chunk: Buffer, eof: boolean): FileEncoding | null {
  if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) return 'UTF8';
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(chunk, { stream: !eof });
    return eof || /[^\x00-\x7f]/.test(text) ? 'UTF8' : null;
  } catch {
    // Windows registry extracts are Shift_JIS (CP932) unless they say otherwise.
    return 'SJIS';
  }
}

/** Publishes progress to the job row at most every PROGRESS_EVERY_MS, never overlapping writes. */
class ProgressReporter implements ImportProgress {
  phase = ImportPhase.RECEIVING;
  bytesRead = 0;
  rowsRead = 0;
  rowsRejected = 0;
  encoding: FileEncoding | null = null;
  private last = 0;
  private writing: Promise<void> = Promise.resolve();
  private busy = false;

  constructor(
    private readonly db: DataSource,
    private readonly log: Log,
    private readonly job: ImportJob,
    /** Whether the server has stopped waiting for the job: its database is going, and nothing more is written. */
    private readonly stopped: () => boolean,
    private readonly listener?: (p: ImportProgress) => void,
  ) {}

  tick(): void {
    const now = Date.now();
    if (now - this.last < PROGRESS_EVERY_MS) return;
    this.last = now;
    this.listener?.(this);
    this.flush();
  }

  flush(): void {
    if (this.busy || this.stopped()) return;
    this.busy = true;
    this.writing = this.db
      .query(
        `UPDATE import_job SET phase = $3, encoding = $4, bytes_read = $5, rows_read = $6, rows_rejected = $7, heartbeat_at = now()
         WHERE municipality_code = $1 AND id = $2 AND status = 'RUNNING'`,
        [this.job.municipalityCode, this.job.id, this.phase, this.encoding, this.bytesRead, this.rowsRead, this.rowsRejected],
      )
      .then(
        () => undefined,
        (error: unknown) => {
          if (!this.stopped()) this.log.error({ err: error, municipalityCode: this.job.municipalityCode, importJobId: this.job.id }, 'import progress update failed');
        },
      )
      .finally(() => {
        this.busy = false;
      });
  }

  async settle(): Promise<void> {
    await this.writing;
  }

  /** As setPhase, but written before it returns (after any write under way): what reads the job next sees it. */
  async enterNow(phase: ImportPhase): Promise<void> {
    this.phase = phase;
    this.last = Date.now();
    this.listener?.(this);
    await this.writing;
    this.flush();
    await this.writing;
  }

  setPhase(phase: ImportPhase): void {
    this.phase = phase;
    this.last = 0;
    this.tick();
  }
}

interface Outcome {
  status: ImportStatus.SUCCEEDED | ImportStatus.FAILED;
  rowsAccepted: number;
  rowsRejected: number;
  /** Rows the rejection report lists. */
  rejectionsListed: number;
  residentsInserted: number;
  residentsUpdated: number;
  ticketsInserted: number;
  ticketsUpdated: number;
  failureReason: string | null;
}

/**
 * Resident registry import (DESIGN.md §4.1). The file streams through decoding, CSV parsing and
 * row checks; good rows leave Node with My Number already encrypted and hashed, and are written
 * with COPY into a staging table created inside the job's one transaction. Duplicates and
 * conflicts are then found in SQL, and residents and tickets merged with one INSERT … ON
 * CONFLICT each. Only the commit makes anything visible, so a failure or a dead process leaves
 * the tenant exactly as it was, and the staging table disappears with the transaction.
 */
export class ResidentImportService {
  /** Fault injection for tests: runs inside the merge transaction, between residents and tickets. */
  faultAfterResidentMerge: ((job: ImportJob, client: PoolClient) => void | Promise<void>) | null = null;
  /** Fault injection for tests: a worker thread throws on the chunk holding this line. */
  faultInWorkerAtLine: number | null = null;
  /** Files smaller than this are staged without worker threads; tests lower it to exercise them. */
  workerThresholdBytes = WORKER_THRESHOLD_BYTES;
  /** How long `drain` waits; tests lower it. */
  drainMs = DRAIN_MS;
  /** The jobs this process is running, by their end. */
  private readonly running = new Set<Promise<ImportJob>>();
  /** Set once `drain` has stopped waiting: the jobs still running lose their transaction with the database's connections. */
  private stopped = false;

  constructor(
    private readonly db: DataSource,
    private readonly keyring: TenantKeyring,
    private readonly pendingDoses: PendingDoseService,
    private readonly suspensions: SuspensionService,
    private readonly log: Log,
  ) {}

  /**
   * Waits, at most `drainMs`, for the jobs this process runs to end: a stopping server, whose
   * listeners have cut their uploads off, lets them record how they ended before its database goes.
   * A job still running then writes nothing more, and reads as FAILED once its heartbeat is stale (reportStale).
   */
  async drain(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.running), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.drainMs)))]);
    clearTimeout(timer);
    this.stopped = true;
  }

  /** The caller's own municipality, if the policy lets it import there; refused otherwise. */
  principalOf(ctx: Context): ImportPrincipal {
    const municipalityCode = ownMunicipalityFor(ctx, 'import', 'Resident');
    return { requestId: ctx.requestId, channel: ctx.channel, actor: ctx.actor, municipalityCode };
  }

  async get(ctx: Context, id: string): Promise<ImportJob | null> {
    const scope = scopeOf(ctx.ability, 'read', 'ImportJob');
    if (!scope || !isUuid(id)) return null;
    const db = await ctx.session.manager();
    const job = await applyScope(db.getRepository(ImportJob).createQueryBuilder('j'), scope).andWhere('j.id = :id', { id }).getOne();
    return job ? (await reportStale(db, [job]))[0] : null;
  }

  /** As `get`, for a caller refused outright (FORBIDDEN) when the policy lets it read no import job at all. */
  async readable(ctx: Context, id: string): Promise<ImportJob | null> {
    if (!scopeOf(ctx.ability, 'read', 'ImportJob')) throw refusal(ctx, 'read', 'ImportJob');
    return this.get(ctx, id);
  }

  /** The caller's most recent imports, newest first: how an officer finds a running upload's progress. */
  async list(ctx: Context, first: number): Promise<ImportJob[]> {
    checkPageSize(first, 100);
    const scope = scopeOf(ctx.ability, 'read', 'ImportJob');
    if (!scope) return [];
    const db = await ctx.session.manager();
    const jobs = await applyScope(db.getRepository(ImportJob).createQueryBuilder('j'), scope)
      .orderBy('j.created_at', 'DESC').addOrderBy('j.id').limit(first).getMany();
    return reportStale(db, jobs);
  }

  /** A page of the job's rejection report; the job is one the caller may read. */
  async rejectionsOf(loaders: Pick<Loaders, 'rejectionPages'>, job: ImportJob, first: number, after: number | null): Promise<{ nodes: ImportRejection[]; hasNextPage: boolean; endCursor: string | null; complete: boolean }> {
    checkPageSize(first, MAX_REJECTIONS_PAGE);
    const rows = await loaders.rejectionPages.load({ job, first, after: after ?? 0 });
    const nodes = rows.slice(0, first);
    return {
      nodes,
      hasNextPage: rows.length > first,
      endCursor: nodes.length ? String(nodes[nodes.length - 1].seq) : null,
      complete: reportComplete(job),
    };
  }

  /**
   * Writes a job the caller may read (see `get`) with its whole rejection report to `out` as CSV,
   * in line order; the column as the file's header spells it is kept from reading as a formula.
   */
  async writeRejections(job: ImportJob, encoding: FileEncoding, out: Writable, started?: () => void): Promise<void> {
    // Both values come from the job's own row: digits and a uuid.
    await copyCsv(this.db, job.municipalityCode,
      `SELECT line, ${spreadsheetText('column_name')}, field, code, message FROM import_rejection
       WHERE municipality_code = '${job.municipalityCode}' AND job_id = '${job.id}' ORDER BY seq`,
      { header: ['line', 'column', 'field', 'code', 'message'], encoding, out, started });
  }

  /**
   * A municipality keeps the rejection reports of its latest imports only: a wrong file re-sent
   * many times would otherwise pile up millions of rows. Older jobs keep their counts, and their
   * report no longer calls itself complete.
   */
  private async letOldReportsGo(client: PoolClient, job: ImportJob): Promise<void> {
    await client.query(
      `WITH old AS (
         SELECT id FROM import_job WHERE municipality_code = $1 AND rejections_listed > 0 AND id <> $2 ORDER BY finished_at DESC, id OFFSET $3
       ), gone AS (
         DELETE FROM import_rejection x USING old WHERE x.municipality_code = $1 AND x.job_id = old.id
       )
       UPDATE import_job j SET rejections_listed = 0 FROM old WHERE j.municipality_code = $1 AND j.id = old.id`,
      // This job's report is one of them.
      [job.municipalityCode, job.id, REPORTS_KEPT - 1],
    );
  }

  /**
   * Records as FAILED the jobs of a process that died (its database session gone and no heartbeat
   * for SESSION_GONE_AFTER_MS, or none for STALE_AFTER_MS): their transaction never committed, so they wrote nothing. Runs at start-up for every municipality
   * and before each import for its own; until then, reads already report such a job as failed.
   */
  async failStale(municipalityCode: string | null): Promise<void> {
    // Each gets the failure line in the operation log that its own end would have written (an
    // upload came over LG-WAN from its creator; a job without one came from the CLI).
    await this.db.query(
      `WITH failed AS (
         UPDATE import_job SET status = 'FAILED', phase = NULL, finished_at = heartbeat_at, failure_reason = $2
         WHERE status IN ('QUEUED', 'RUNNING')
           AND (heartbeat_at < now() - make_interval(secs => $1)
             OR (heartbeat_at < now() - make_interval(secs => $4) AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)))
           AND ($3::char(6) IS NULL OR municipality_code = $3)
         RETURNING municipality_code, id, created_by
       )
       INSERT INTO audit_event (request_id, actor_id, role, channel, municipality_code, operation, target_ids, outcome)
       SELECT 'import-stopped', f.created_by, a.role, CASE WHEN f.created_by IS NULL THEN 'CLI' ELSE 'LGWAN' END, f.municipality_code,
              'resident.import', ARRAY[f.id::text], 'FAILURE'
       FROM failed f LEFT JOIN account a ON a.id = f.created_by`,
      [STALE_AFTER_MS / 1000, STALE_REASON, municipalityCode, SESSION_GONE_AFTER_MS / 1000],
    );
  }

  /** Creates the job and starts reading `input`; the returned promises follow its course. */
  async start(principal: ImportPrincipal, input: Readable, options: ImportOptions, onProgress?: (p: ImportProgress) => void): Promise<RunningImport> {
    await this.suspensions.assertAvailable(this.db.manager, PlatformFunction.IMPORT, principal.municipalityCode);
    await this.failStale(principal.municipalityCode);
    const repo = this.db.getRepository(ImportJob);
    const job = repo.create({
      municipalityCode: principal.municipalityCode,
      id: randomUUID(),
      kind: 'RESIDENTS',
      mode: options.mode,
      status: ImportStatus.QUEUED,
      phase: null,
      encoding: options.encoding ?? null,
      bytesRead: 0,
      bytesTotal: options.bytesTotal ?? null,
      rowsRead: 0,
      rowsAccepted: 0,
      rowsRejected: 0,
      rejectionsListed: 0,
      residentsInserted: 0,
      residentsUpdated: 0,
      ticketsInserted: 0,
      ticketsUpdated: 0,
      failureReason: null,
      createdBy: principal.actor?.accountId ?? null,
      startedAt: null,
      finishedAt: null,
      backendPid: null,
    });
    // Its created_at and heartbeat_at are the database's now() (the columns' defaults), as every later time of the job is.
    await repo.insert(job);
    let markReceived: () => void = () => undefined;
    const received = new Promise<void>((resolve) => {
      markReceived = resolve;
    });
    // The job's own work waits for connections as long as it takes: a busy moment must not fail an import under way.
    const done = patiently(() => this.execute(job, principal, input, options, markReceived, onProgress)).finally(markReceived);
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return { job, received, done };
  }

  private async execute(
    job: ImportJob,
    principal: ImportPrincipal,
    input: Readable,
    options: ImportOptions,
    received: () => void,
    onProgress?: (p: ImportProgress) => void,
  ): Promise<ImportJob> {
    const progress = new ProgressReporter(this.db, this.log, job, () => this.stopped, onProgress);
    const heartbeat = setInterval(() => progress.flush(), HEARTBEAT_MS).unref();
    let outcome: Outcome | null = null;
    let failureReason = '';
    try {
      await this.db.query(
        `UPDATE import_job SET status = 'RUNNING', phase = 'RECEIVING', started_at = now(), heartbeat_at = now() WHERE municipality_code = $1 AND id = $2`,
        [job.municipalityCode, job.id],
      );
      const keys = await this.keyring.keysFor(this.db.manager, job.municipalityCode);
      outcome = await this.inTenantTransaction(job.municipalityCode, async (client, tx) => {
        // The job lives as long as this session: once it is gone, the job is known to have written nothing.
        const { rows: [{ pid }] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await this.db.query('UPDATE import_job SET backend_pid = $3 WHERE municipality_code = $1 AND id = $2', [job.municipalityCode, job.id, pid]);
        return this.runInTransaction(client, tx, job, principal, input, options, keys, progress, received);
      });
    } catch (error) {
      const lost = connectionLost(error);
      if (lost && !this.stopped) this.log.warn({ cause: (error as Error).message, municipalityCode: job.municipalityCode, importJobId: job.id }, `resident import failed: ${LOST_REASON}`);
      else if (!(error instanceof ImportFailure) && !this.stopped) this.log.error({ err: error, municipalityCode: job.municipalityCode, importJobId: job.id }, 'resident import failed');
      input.resume();
      failureReason = error instanceof ImportFailure ? error.message
        : crossedAnother(error) ? CROSSED_REASON : lost ? LOST_REASON : 'the import failed unexpectedly; nothing was written';
    } finally {
      clearInterval(heartbeat);
      await progress.settle();
    }
    onProgress?.(progress);
    // A job that failed before its end was written in its own transaction (the rolled-back one
    // could not write it) has counts but no rejection report.
    outcome ??= {
      status: ImportStatus.FAILED, rowsAccepted: 0, rowsRejected: progress.rowsRejected, rejectionsListed: 0,
      residentsInserted: 0, residentsUpdated: 0, ticketsInserted: 0, ticketsUpdated: 0, failureReason,
    };
    const ended = () => Object.assign(job, { ...outcome, phase: null, rowsRead: progress.rowsRead });
    // The database's connections are closing, and the transaction, if it had not ended, went with them.
    if (this.stopped) {
      if (failureReason) this.log.warn({ municipalityCode: job.municipalityCode, importJobId: job.id }, STOPPED_UNDER);
      return ended();
    }
    try {
      if (failureReason) await this.recordFailure(job, principal, progress, outcome);
      return await this.db.getRepository(ImportJob).findOneByOrFail({ municipalityCode: job.municipalityCode, id: job.id });
    } catch (error) {
      // The database went away: a failure unrecorded reads as FAILED once its heartbeat is stale.
      this.log.error({ err: error, municipalityCode: job.municipalityCode, importJobId: job.id }, 'resident import: the job\'s end could not be recorded');
      return ended();
    }
  }

  private async runInTransaction(
    client: PoolClient,
    tx: EntityManager,
    job: ImportJob,
    principal: ImportPrincipal,
    input: Readable,
    options: ImportOptions,
    keys: TenantKeys,
    progress: ProgressReporter,
    received: () => void,
  ): Promise<Outcome> {
    const suffix = job.id.replace(/-/g, '');
    const staging = `import_staging_${suffix}`;
    const rejected = `import_rejected_${suffix}`;
    const code = job.municipalityCode;
    // Created inside the transaction: a rollback or a dead connection removes them with everything else.
    // A row refused in Node is staged with its problems (JSON) and only the keys that read well
    // (addressee number, My Number's hash, ticket number), for the duplicate checks; it moves to
    // the rejections right after them.
    await client.query(`
      CREATE TEMP TABLE ${staging} (
        line integer NOT NULL, addressee_number text, my_number_cipher bytea, my_number_hmac bytea,
        family_name text, given_name text, family_name_kana text, given_name_kana text,
        birth_date date, sex text, ticket_number char(10), series text, problems text
      ) ON COMMIT DROP;
      CREATE TEMP TABLE ${rejected} (line integer NOT NULL, field text NOT NULL, code text NOT NULL, message text NOT NULL, ord integer NOT NULL DEFAULT 1) ON COMMIT DROP;
    `);

    let layout: Layout | null = null;
    const today = todayInJapan();
    // A row's code is another municipality's only if some municipality or ward has it: the table, and the wards it leaves out.
    const { rows: listed } = await client.query<{ code: string }>('SELECT code FROM municipality');
    const rules: RowRules = { today, nationalCodes: new Set([...listed.map((m) => m.code), ...wardCodes()]) };
    const cutter = new RecordCutter();
    let workers: StagingWorkers | null = null;
    let bytesSeen = 0;
    let seq = 0;
    const apply = (rowsRead: number, rowsRejected: number) => {
      progress.rowsRead += rowsRead;
      progress.rowsRejected += rowsRejected;
      progress.tick();
    };
    const onMain = (chunk: Chunk): Buffer => {
      const staged = stageChunk(chunk, cutter.end, layout, keys, rules);
      layout = staged.layout;
      apply(staged.rowsRead, staged.rowsRejected);
      return Buffer.from(staged.copy);
    };
    const settle = async (result: Promise<WorkerResult>): Promise<Buffer> => {
      const done = await result;
      if (!done.ok) throw done.failure ? new ImportFailure(done.failure) : new WorkerCrash(`import worker failed: ${done.detail}`);
      apply(done.rowsRead, done.rowsRejected);
      return Buffer.from(done.copy.buffer, done.copy.byteOffset, done.copy.byteLength);
    };
    const workerThreshold = this.workerThresholdBytes;
    const faultAtLine = this.faultInWorkerAtLine;
    // Small files stay on this thread; past the threshold, chunks go to worker threads and come
    // back in file order, at most a few per worker in flight (constant memory).
    async function* stage(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      const inFlight: { result: Promise<WorkerResult>; settled: boolean }[] = [];
      const send = (chunk: Chunk) => {
        workers ??= new StagingWorkers({ keys: keys.derived(), rules, faultAtLine });
        const entry = { result: workers.run({ seq: seq++, chunk, end: cutter.end, layout: layout! }), settled: false };
        entry.result.then(() => (entry.settled = true), () => (entry.settled = true));
        return entry;
      };
      const dispatch = async function* (chunk: Chunk | null): AsyncGenerator<Buffer> {
        if (!chunk) return;
        if (!layout || (bytesSeen < workerThreshold && inFlight.length === 0)) {
          yield onMain(chunk);
          return;
        }
        inFlight.push(send(chunk));
        // Finished chunks are written (and counted in the progress) as soon as it is their turn.
        while (inFlight.length >= MAX_IN_FLIGHT || inFlight[0]?.settled) yield await settle(inFlight.shift()!.result);
      };
      // A file unreadable from some record on counts the records before it, whichever thread reads
      // them. Settled inside the loop: leaving it first would destroy the source, and the pipeline with it.
      const cut = async function* (next: () => Chunk | null): AsyncGenerator<Buffer, Chunk | null> {
        try {
          return next();
        } catch (error) {
          if (error instanceof ChunkFailure) while (inFlight.length) yield await settle(inFlight.shift()!.result);
          throw error;
        }
      };
      for await (const bytes of source) {
        bytesSeen += bytes.length;
        yield* dispatch(yield* cut(() => cutter.push(bytes)));
      }
      for (let rest = yield* cut(() => cutter.finish()); rest; rest = yield* cut(() => cutter.finish())) yield* dispatch(rest);
      while (inFlight.length) yield await settle(inFlight.shift()!.result);
      if (!layout) throw new ImportFailure('the file is empty: expected a header row and data rows');
    }
    try {
      await pipeline(
        input,
        new FileDecoder(options.encoding ?? null, (bytes, encoding) => {
          progress.bytesRead += bytes;
          progress.encoding = encoding;
        }),
        stage,
        client.query(copyFrom(`COPY ${staging} (${STAGING_COLUMNS.join(', ')}) FROM STDIN`)),
      );
    } catch (error) {
      if (error instanceof ChunkFailure) throw new ImportFailure(error.message);
      if (error instanceof UploadInterrupted) throw new ImportFailure('the upload stopped before the end of the file; nothing was written, send the file again');
      throw error;
    } finally {
      await (workers as StagingWorkers | null)?.close();
    }
    // The upload is answered once the file is read, with the job as it stands then.
    await progress.enterNow(ImportPhase.CHECKING);
    received();
    // The merge sorts a city's rows by addressee number and keeps them for the ticket insert; with
    // less memory both went to disk, which cost a million-row import 5–10 s. Only a large file gets
    // that memory (imports of several municipalities may run at once), and only in this transaction.
    const staged = progress.rowsRead - progress.rowsRejected;
    if (staged > LARGE_FILE_ROWS) await client.query(`SET LOCAL work_mem = '512MB'`);
    // The checks and the merge look a small file's rows up by their keys, and join a file the planner
    // reckons larger than the municipality's residents or tickets by hash, never row by row: its counts
    // lag a city registered by the API faster than autovacuum counts it, and reckoning one resident and
    // one ticket there, it read every ticket of the city once per row of the file (20,000 rows took minutes).
    if (staged > Math.min(await plannedRows(client, 'resident', code), await plannedRows(client, 'ticket', code))) {
      await client.query('SET LOCAL enable_nestloop = off');
    }
    // One import per municipality at a time: the checks below must see the tenant as the merge will.
    await lockRegistry(client, code);
    // My Number is compared by its hash under the key the rows were staged with; a resident still
    // under another version (a key rotation under way) would escape the comparison. Residents are
    // only scanned for a municipality whose key has ever been rotated.
    const [{ rotating }] = (await client.query(
      `SELECT EXISTS (SELECT FROM tenant_key WHERE municipality_code = $1 AND key_version > $2)
           OR (EXISTS (SELECT FROM tenant_key WHERE municipality_code = $1 AND key_version < $2)
               AND EXISTS (SELECT FROM resident WHERE municipality_code = $1 AND key_version <> $2)) AS rotating`,
      [code, keys.version],
    )).rows;
    if (rotating) throw new ImportFailure('the municipality\'s data key is being rotated; nothing was written, run the import again once the rotation has finished');
    await client.query(`ANALYZE ${staging}`);
    const unique = [['addressee_number', 'addresseeNumber', 'addressee number'], ['my_number_hmac', 'myNumber', 'My Number'], ['ticket_number', 'ticketNumber', 'ticket number']];
    const [repeats] = (await client.query(
      `SELECT ${unique.map(([column]) => `count(DISTINCT ${column}) < count(${column}) AS ${column}`).join(', ')} FROM ${staging}`,
    )).rows;
    // Every repeat of an earlier line is reported, on each column it repeats, after the row's own
    // problems: a row with a wrong sex code that also repeats an addressee number is told both. A
    // row repeating a refused row is a duplicate too (the refused one keeps its own problems): which
    // of the two the file means is for the officer to settle.
    const repeated = unique.map((entry, i) => [...entry, i + 1] as const).filter(([column]) => repeats[column]);
    for (const [column, what, label, position] of repeated) {
      await client.query(`
        INSERT INTO ${rejected} (line, ord, field, code, message)
        SELECT line, coalesce(jsonb_array_length(problems::jsonb), 0) + ${position}, '${what}', 'DUPLICATE', 'same ${label} as line ' || first || ' of this file'
        FROM (SELECT line, problems, min(line) OVER (PARTITION BY ${column}) AS first FROM ${staging} WHERE ${column} IS NOT NULL) x
        WHERE line > first`);
    }
    if (repeated.length) await client.query(`DELETE FROM ${staging} s USING ${rejected} r WHERE s.line = r.line AND s.problems IS NULL`);
    if (progress.rowsRejected > 0) {
      await client.query(`
        WITH refused AS (DELETE FROM ${staging} WHERE problems IS NOT NULL RETURNING line, problems)
        INSERT INTO ${rejected} (line, ord, field, code, message)
        SELECT f.line, p.ord, p.field, p.code, p.message
        FROM refused f, ROWS FROM (jsonb_to_recordset(f.problems::jsonb) AS (field text, code text, message text)) WITH ORDINALITY AS p(field, code, message, ord)`);
    }

    await client.query(
      `WITH gone AS (
         DELETE FROM ${staging} s USING resident r
         WHERE r.municipality_code = $1 AND r.my_number_hmac = s.my_number_hmac AND r.addressee_number <> s.addressee_number
         RETURNING s.line)
       INSERT INTO ${rejected} SELECT line, 'myNumber', 'DUPLICATE', 'another resident of this municipality has this My Number' FROM gone`,
      [code],
    );
    await client.query(
      `WITH gone AS (
         DELETE FROM ${staging} s USING ticket t JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id
         WHERE t.municipality_code = $1 AND t.ticket_number = s.ticket_number AND r.addressee_number <> s.addressee_number
         RETURNING s.line)
       INSERT INTO ${rejected} SELECT line, 'ticketNumber', 'DUPLICATE', 'ticket number belongs to another resident of this municipality' FROM gone`,
      [code],
    );
    // The rules of ticket issuing hold for the file's new tickets (and changed series) too: a
    // resident who moved out or died gets none, and one holds at most one open ticket for any dose.
    // A void ticket's series is no ticket issued: it follows the file (a campaign widened to "1-3"
    // lists the void tickets of those who left too), and the doses recorded on it are still checked below.
    // Unchanged tickets are dropped before residents are joined (materialised, or the planner
    // probes every resident's tickets: 5 s instead of 1 s for a million), and a municipality
    // without residents yet skips the statement. Tickets whose series changes are kept aside for
    // the check of their recorded doses below.
    const moved = `import_moved_${suffix}`;
    await client.query(`CREATE TEMP TABLE ${moved} (line integer NOT NULL, id uuid NOT NULL, resident_id uuid NOT NULL, series text NOT NULL) ON COMMIT DROP`);
    await client.query(
      `WITH changed AS MATERIALIZED (
         SELECT s.line, s.addressee_number, s.ticket_number, s.series, o.id AS existing_id, o.resident_id, o.voided_on IS NOT NULL AS void
         FROM ${staging} s LEFT JOIN ticket o ON o.municipality_code = $1 AND o.ticket_number = s.ticket_number
         WHERE s.ticket_number IS NOT NULL AND (o.id IS NULL OR o.series <> s.series)
           AND EXISTS (SELECT FROM resident WHERE municipality_code = $1)
       ), kept AS (
         INSERT INTO ${moved} SELECT line, existing_id, resident_id, series FROM changed WHERE existing_id IS NOT NULL
       ), refused AS (
         SELECT c.line, CASE r.status WHEN 'DECEASED' THEN 'RESIDENT_DECEASED' WHEN 'MOVED_OUT' THEN 'RESIDENT_MOVED_OUT' ELSE 'DUPLICATE' END AS code,
                CASE r.status WHEN 'DECEASED' THEN 'resident is recorded as deceased; no ticket is issued'
                              WHEN 'MOVED_OUT' THEN 'resident is moved out; no ticket is issued'
                              ELSE 'resident already holds an open ticket of series ' || held.series END AS message
         FROM changed c JOIN resident r ON r.municipality_code = $1 AND r.addressee_number = c.addressee_number
         LEFT JOIN LATERAL (SELECT t.series FROM ticket t WHERE t.municipality_code = $1 AND t.resident_id = r.id AND t.voided_on IS NULL
                              AND series_range(t.series) && series_range(c.series) AND t.ticket_number <> c.ticket_number LIMIT 1) held ON true
         WHERE NOT c.void AND (r.status <> 'ACTIVE' OR held.series IS NOT NULL)
       ), gone AS (DELETE FROM ${staging} s USING refused f WHERE s.line = f.line RETURNING s.line, f.code, f.message)
       INSERT INTO ${rejected} SELECT line, 'ticketNumber', code, message FROM gone`,
      [code],
    );
    // A ticket keeps covering the doses already recorded on it, as recordDose requires of a dose:
    // a series moved off them would have the tablet refuse the printed ticket. Dose writers read
    // the ticket's series under its resident's row lock, so these residents are locked first (a
    // statement of its own: one waiting for a lock still reads with the snapshot it began with),
    // and no dose lands on these tickets until the import commits.
    await client.query(
      `WITH locked AS (SELECT r.id FROM resident r JOIN ${moved} m ON r.municipality_code = $1 AND r.id = m.resident_id FOR UPDATE OF r)
       SELECT count(*) FROM locked`,
      [code],
    );
    await client.query(
      `WITH refused AS (
         SELECT m.line, m.series, string_agg(v.dose_number::text, ', ' ORDER BY v.dose_number) AS doses, count(*) AS n FROM ${moved} m
         JOIN vaccination_record v ON v.municipality_code = $1 AND v.resident_id = m.resident_id AND v.ticket_id = m.id AND v.status = 'COMPLETED'
         WHERE NOT coalesce(series_range(m.series) @> v.dose_number::int, false)
         GROUP BY m.line, m.series
       ), gone AS (DELETE FROM ${staging} s USING refused f WHERE s.line = f.line RETURNING s.line, f.series, f.doses, f.n)
       INSERT INTO ${rejected} SELECT line, 'series', 'DOSE_NOT_IN_SERIES',
         'series ' || series || ' does not cover ' || CASE WHEN n > 1 THEN 'doses ' ELSE 'dose ' END || doses || ' already recorded on this ticket' FROM gone`,
      [code],
    );
    // A changed birth date stays before a recorded move out or death, and before the resident's
    // first recorded dose, as updateResident keeps it. Dose writers and the move-out and death flags
    // check their dates against the birth date they read under the resident's row lock: the
    // residents whose birth date changes are locked (and kept aside, with what the checks need)
    // first, so that the checks see every such write committed before, and none can follow until
    // the import commits.
    const births = `import_births_${suffix}`;
    await client.query(`CREATE TEMP TABLE ${births} (line integer NOT NULL, id uuid NOT NULL, birth_date date NOT NULL, moved_out_on date, deceased_on date) ON COMMIT DROP`);
    await client.query(
      `WITH locked AS (
         SELECT s.line, r.id, s.birth_date, r.moved_out_on, r.deceased_on FROM resident r JOIN ${staging} s ON r.addressee_number = s.addressee_number
         WHERE r.municipality_code = $1 AND r.birth_date <> s.birth_date FOR UPDATE OF r
       ) INSERT INTO ${births} SELECT * FROM locked`,
      [code],
    );
    await client.query(`ANALYZE ${births}`);
    await client.query(
      `WITH late AS (
         DELETE FROM ${births} b WHERE b.birth_date > coalesce(b.moved_out_on, b.deceased_on)
         RETURNING b.line, CASE WHEN b.moved_out_on IS NOT NULL THEN 'move out (' || b.moved_out_on ELSE 'death (' || b.deceased_on END AS event
       ), gone AS (DELETE FROM ${staging} s USING late l WHERE s.line = l.line)
       INSERT INTO ${rejected} SELECT line, 'birthDate', 'INVALID_DATE', 'must not be after the recorded ' || event || ')' FROM late`,
    );
    await client.query(
      `WITH refused AS (
         SELECT b.line, to_char(min(v.vaccinated_on), 'YYYY-MM-DD') AS first FROM ${births} b
         JOIN vaccination_record v ON v.municipality_code = $1 AND v.resident_id = b.id AND v.status = 'COMPLETED' AND v.vaccinated_on < b.birth_date
         GROUP BY b.line
       ), gone AS (DELETE FROM ${staging} s USING refused f WHERE s.line = f.line RETURNING s.line, f.first)
       INSERT INTO ${rejected} SELECT line, 'birthDate', 'DATE_AFTER_NEXT_DOSE', 'must not be after the first recorded dose (' || first || ')' FROM gone`,
      [code],
    );
    // Nor after the issue date of a ticket the resident holds, as updateResident keeps it.
    await client.query(
      `WITH refused AS (
         SELECT DISTINCT ON (b.line) b.line, t.ticket_number, to_char(t.issued_on, 'YYYY-MM-DD') AS issued_on FROM ${births} b
         JOIN ticket t ON t.municipality_code = $1 AND t.resident_id = b.id AND t.voided_on IS NULL AND t.issued_on < b.birth_date
         ORDER BY b.line, t.issued_on, t.ticket_number
       ), gone AS (DELETE FROM ${staging} s USING refused f WHERE s.line = f.line RETURNING s.line, f.ticket_number, f.issued_on)
       INSERT INTO ${rejected} SELECT line, 'birthDate', 'INVALID_DATE', 'must not be after the issue date of ticket ' || ticket_number || ' (' || issued_on || ')' FROM gone`,
      [code],
    );
    // The report lists every rejected row with all its problems, in line order.
    // The column as the file's header spells it (a missing optional column by the header that would add it: ticket_number).
    const headers = Object.fromEntries((Object.keys(COLUMNS) as ColumnName[]).map((field) => [field, (layout as Layout | null)?.header[field] ?? COLUMNS[field].names[0]]));
    const [{ accepted }] = (await client.query(`SELECT count(*)::int AS accepted FROM ${staging}`)).rows;
    const { rowCount } = await client.query(
      `INSERT INTO import_rejection (municipality_code, job_id, seq, line, column_name, field, code, message)
       SELECT $1, $2, row_number() OVER (ORDER BY line, ord), line, coalesce($3::jsonb ->> field, ''), field, code, message FROM ${rejected}`,
      [code, job.id, JSON.stringify(headers)],
    );
    // Rejected rows, each once however many problems it has.
    const [{ rowsRejected }] = rowCount ? (await client.query(`SELECT count(DISTINCT line)::int AS "rowsRejected" FROM ${rejected}`)).rows : [{ rowsRejected: 0 }];
    if (rowCount) await this.letOldReportsGo(client, job);
    progress.rowsRejected = rowsRejected;
    const base = { rowsAccepted: accepted, rowsRejected, rejectionsListed: rowsRejected };
    if (options.mode === ImportMode.ABORT && rowsRejected > 0) {
      // Nothing but the report was written (the staging tables are temporary): the job's failure,
      // its report and the audit line commit together.
      const outcome: Outcome = {
        ...base, status: ImportStatus.FAILED, residentsInserted: 0, residentsUpdated: 0, ticketsInserted: 0, ticketsUpdated: 0,
        failureReason: `${rowsRejected} row(s) rejected; under mode ABORT nothing was written`,
      };
      await this.recordEndInTransaction(client, job, principal, progress, outcome);
      return outcome;
    }

    // The operator may have stopped imports while the file arrived.
    await this.suspensions.assertAvailable(tx, PlatformFunction.IMPORT, code).catch((error) => {
      if ((error as GraphQLError).extensions?.code !== 'FUNCTION_SUSPENDED') throw error;
      throw new ImportFailure('imports were stopped by the system operator while this one ran; nothing was written');
    });
    progress.setPhase(ImportPhase.MERGING);
    const counts = await this.mergeResidents(client, staging, code, keys.version, today, job.id, principal);
    await this.faultAfterResidentMerge?.(job, client);
    // When every accepted row was a new resident, the statement above wrote all their tickets.
    const tickets = counts.inserted < accepted ? await this.mergeTickets(client, staging, code, today, job.id, principal) : { inserted: 0, updated: 0 };
    await client.query(`DROP TABLE ${staging}, ${rejected}, ${births}, ${moved}`);
    // The planner learns of the rows with the commit (ANALYZE counts this transaction's own): planned
    // as if the municipality had none, its next import's checks ran for hours (migration 1800200000000).
    if (counts.inserted + counts.ticketsInserted + tickets.inserted >= ANALYZE_AFTER_ROWS) await client.query('SELECT analyze_registry()');
    // Before the job's row is written: that write holds the row until the commit, and the heartbeat would wait on it.
    await this.matchPendingDoses(tx, code, principal);

    const outcome: Outcome = {
      ...base, status: ImportStatus.SUCCEEDED, residentsInserted: counts.inserted, residentsUpdated: counts.updated,
      ticketsInserted: counts.ticketsInserted + tickets.inserted, ticketsUpdated: tickets.updated, failureReason: null,
    };
    // The job's result, its rejection report and the audit line commit together with the data.
    await this.recordEndInTransaction(client, job, principal, progress, outcome);
    return outcome;
  }

  /**
   * One pass over the file's rows finds the new and the changed residents; identical rows are
   * left alone (no updated_at churn). My Number is compared by its keyed hash, since each
   * encryption of the same number differs. New ids are time-ordered (uuidv7) and handed out in
   * addressee-number order, so the primary key and the addressee index grow at one edge instead of
   * at random pages. Plain INSERT and UPDATE rather than INSERT … ON CONFLICT: every conflict with
   * the tenant was rejected above, and the speculative insertion per row, with the sort that
   * ordered random ids, made a million new residents take 51 s instead of 40 s. An officer's entry
   * racing the merge fails the import instead (collided below), which rolls back whole. A new
   * resident's ticket is written by the same statement, from the same row and id. The operation
   * log names every resident the import created or changed (the job's id first, then up to
   * AUDIT_BATCH residents an event), so that a search for a resident finds the import. Times are
   * the statement's: now() is the start of the import's transaction, which for a large file is
   * long before the write, and before entries officers committed while the file arrived.
   */
  private async mergeResidents(client: PoolClient, staging: string, code: string, keyVersion: number, today: string, jobId: string, principal: ImportPrincipal):
    Promise<{ inserted: number; updated: number; ticketsInserted: number }> {
    const compared = ['my_number_hmac', 'family_name', 'given_name', 'family_name_kana', 'given_name_kana', 'birth_date', 'sex'];
    const list = (prefix: string) => compared.map((c) => `${prefix}${c}`).join(', ');
    const [counts] = (await collided(client.query(
      `WITH changes AS MATERIALIZED (
         SELECT s.*, o.id AS existing_id, o.my_number_hmac = s.my_number_hmac AS same_number,
                CASE WHEN o.id IS NULL THEN uuidv7() END AS new_id
         FROM ${staging} s LEFT JOIN resident o ON o.municipality_code = $1 AND o.addressee_number = s.addressee_number
         WHERE o.id IS NULL OR (${list('o.')}) IS DISTINCT FROM (${list('s.')})
         ORDER BY s.addressee_number
       ), updated AS (
         UPDATE resident r SET
           my_number_cipher = CASE WHEN c.same_number THEN r.my_number_cipher ELSE c.my_number_cipher END,
           key_version = CASE WHEN c.same_number THEN r.key_version ELSE $2 END,
           ${compared.map((col) => `${col} = c.${col}`).join(', ')}, updated_at = statement_timestamp()
         FROM changes c WHERE r.municipality_code = $1 AND r.id = c.existing_id
         RETURNING r.id
       ), inserted AS (
         INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, key_version, ${list('')}, status, created_at, updated_at)
         SELECT $1, c.new_id, c.addressee_number, c.my_number_cipher, $2, ${list('c.')}, 'ACTIVE', statement_timestamp(), statement_timestamp()
         FROM changes c WHERE c.new_id IS NOT NULL
         ORDER BY c.addressee_number
         RETURNING id
       ), tickets AS (
         INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on, created_at)
         SELECT $1, uuidv7(), c.new_id, c.ticket_number, c.series, $3::date, statement_timestamp()
         FROM changes c WHERE c.new_id IS NOT NULL AND c.ticket_number IS NOT NULL
         ORDER BY c.addressee_number
         RETURNING id
       ), logged AS (
         ${loggedInBatches(`SELECT 'resident.import.create' AS operation, id FROM inserted UNION ALL SELECT 'resident.import.update', id FROM updated
           UNION ALL SELECT 'ticket.import.create', id FROM tickets`, '$1', '$4::text[]', '$5, $6, $7, $8')}
       )
       SELECT (SELECT count(*) FROM inserted)::int AS inserted, (SELECT count(*) FROM updated)::int AS updated,
              (SELECT count(*) FROM tickets)::int AS "ticketsInserted"`,
      [code, keyVersion, today, [jobId], ...auditSourceParams(principal)],
    ))).rows;
    return counts;
  }

  /**
   * New tickets of residents who existed before the import are inserted (ids ordered as the
   * residents'); a ticket the resident already holds keeps its id, and only its series follows the
   * file. A ticket number held by another resident was rejected before this. Unchanged tickets,
   * and those just written with their new residents, are dropped in the first join, before
   * residents are looked up.
   */
  private async mergeTickets(client: PoolClient, staging: string, code: string, today: string, jobId: string, principal: ImportPrincipal):
    Promise<{ inserted: number; updated: number }> {
    const [counts] = (await collided(client.query(
      `WITH changes AS MATERIALIZED (
         SELECT s.addressee_number, s.ticket_number, s.series, o.id AS existing_id
         FROM ${staging} s LEFT JOIN ticket o ON o.municipality_code = $1 AND o.ticket_number = s.ticket_number
         WHERE s.ticket_number IS NOT NULL AND (o.id IS NULL OR o.series IS DISTINCT FROM s.series)
       ), updated AS (
         UPDATE ticket t SET series = c.series FROM changes c WHERE t.municipality_code = $1 AND t.id = c.existing_id
         RETURNING t.id
       ), inserted AS (
         INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on, created_at)
         SELECT $1, uuidv7(), r.id, c.ticket_number, c.series, $2::date, statement_timestamp()
         FROM changes c JOIN resident r ON r.municipality_code = $1 AND r.addressee_number = c.addressee_number
         WHERE c.existing_id IS NULL
         ORDER BY r.id
         RETURNING id
       ), logged AS (
         ${loggedInBatches(`SELECT 'ticket.import.create' AS operation, id FROM inserted UNION ALL SELECT 'ticket.import.update', id FROM updated`, '$1', '$3::text[]', '$4, $5, $6, $7')}
       )
       SELECT (SELECT count(*) FROM inserted)::int AS inserted, (SELECT count(*) FROM updated)::int AS updated`,
      [code, today, [jobId], ...auditSourceParams(principal)],
    ))).rows;
    return counts;
  }

  /**
   * One transaction on one connection, used both raw (COPY streams) and through TypeORM, that
   * sees and writes the importing municipality only (row-level security). A connection that
   * failed mid-COPY is discarded rather than handed back to the pool.
   */
  private async inTenantTransaction<T>(code: string, work: (client: PoolClient, tx: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    const client = (runner as unknown as { databaseConnection: PoolClient }).databaseConnection;
    try {
      await runner.startTransaction();
      // Where the role may not change it (migration 1798200000000), the default stays. A process
      // that dies mid-statement ends its statement within seconds (PostgreSQL 14 and later, on Linux),
      // not at its end: its locks go, and the job reads as stopped.
      await runner.query(`DO $$ BEGIN
        PERFORM set_config('deadlock_timeout', '${DEADLOCK_PATIENCE}', true);
      EXCEPTION WHEN insufficient_privilege THEN NULL; END $$`);
      await endWithClient(runner, true);
      await setTenants(runner, [code]);
      const result = await work(client, runner.manager);
      await runner.commitTransaction();
      await runner.release();
      return result;
    } catch (error) {
      await runner.rollbackTransaction().catch(() => undefined);
      await (runner as unknown as { releasePostgresConnection(e: unknown): Promise<void> }).releasePostgresConnection(error);
      throw error;
    }
  }

  /**
   * Doses a site registered on tickets the municipality had not registered yet are matched in the
   * import's own transaction, so the job reads SUCCEEDED only once they are. A dose that breaks a
   * dose rule stays pending with its problem noted, for the municipality to resolve.
   */
  private async matchPendingDoses(tx: EntityManager, municipalityCode: string, source: AuditSource): Promise<void> {
    const tickets: { id: string; ticket_number: string; resident_id: string; series: string }[] = await tx.query(
      `SELECT DISTINCT t.id, t.ticket_number, t.resident_id, t.series FROM ticket t
       JOIN pending_dose p ON p.municipality_code = t.municipality_code AND p.ticket_number = t.ticket_number AND p.status = 'PENDING'
       WHERE t.municipality_code = $1 AND t.voided_on IS NULL`,
      [municipalityCode],
    );
    await this.pendingDoses.matchIssuedTickets(tx, source, municipalityCode,
      tickets.map((t) => ({ id: t.id, ticketNumber: t.ticket_number, residentId: t.resident_id, series: t.series })));
  }

  /** A failure that rolled the import back, recorded in a transaction of its own. */
  private async recordFailure(job: ImportJob, principal: ImportPrincipal, progress: ProgressReporter, outcome: Outcome): Promise<void> {
    await withClient(this.db, async (client) => {
      await client.query('BEGIN');
      // A job taken for dead gets its real reason; one whose commit went through, though its answer was lost, stays as it is.
      if (await this.recordEnd(client, job, principal, progress, outcome, [ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.FAILED])) await client.query('COMMIT');
      else await client.query('ROLLBACK');
    });
  }

  /**
   * The job's end and its audit line, if the job's status is one of `from` (clock_timestamp: now()
   * would be the start of the import's long transaction); false if it was not.
   */
  private async recordEnd(client: PoolClient, job: ImportJob, principal: ImportPrincipal, progress: ProgressReporter, outcome: Outcome, from: ImportStatus[]): Promise<boolean> {
    const { rows } = await client.query<{ was: ImportStatus }>(
      `UPDATE import_job j SET status = $3, phase = NULL, finished_at = clock_timestamp(), heartbeat_at = clock_timestamp(), encoding = $4, bytes_read = $5,
         rows_read = $6, rows_accepted = $7, rows_rejected = $8, rejections_listed = $9, residents_inserted = $10, residents_updated = $11,
         tickets_inserted = $12, tickets_updated = $13, failure_reason = $14
       FROM (SELECT status FROM import_job WHERE municipality_code = $1 AND id = $2 FOR UPDATE) was
       WHERE j.municipality_code = $1 AND j.id = $2 AND j.status = ANY($15)
         AND (j.status <> 'FAILED' OR j.rejections_listed = 0)
       RETURNING was.status AS was`,
      [
        job.municipalityCode, job.id, outcome.status, progress.encoding, progress.bytesRead, progress.rowsRead, outcome.rowsAccepted,
        outcome.rowsRejected, outcome.rejectionsListed, outcome.residentsInserted, outcome.residentsUpdated, outcome.ticketsInserted,
        outcome.ticketsUpdated, outcome.failureReason, from,
      ],
    );
    if (!rows.length) return false;
    // A job already recorded as stopped has its failure line: it gets its real reason, not a second line.
    if (rows[0].was === ImportStatus.FAILED) return true;
    await writeAudit(queryable(client), principal, [{
      operation: 'resident.import', municipalityCode: job.municipalityCode, targetIds: [job.id], outcome: outcome.status === ImportStatus.SUCCEEDED ? 'SUCCESS' : 'FAILURE',
    }]);
    return true;
  }

  /** The end of the import's own transaction: a job taken for dead meanwhile (its heartbeat stalled) rolls the import back. */
  private async recordEndInTransaction(client: PoolClient, job: ImportJob, principal: ImportPrincipal, progress: ProgressReporter, outcome: Outcome): Promise<void> {
    if (!(await this.recordEnd(client, job, principal, progress, outcome, [ImportStatus.QUEUED, ImportStatus.RUNNING]))) {
      throw new ImportFailure('the import was taken for stopped while it ran; nothing was written, run the import again');
    }
  }
}

/** A unique key taken by another writer while the merge ran: the officer may simply run the import again. */
/** How many of the municipality's rows of `table` the planner reckons there are. */
async function plannedRows(client: PoolClient, table: 'resident' | 'ticket', code: string): Promise<number> {
  const { rows: [{ 'QUERY PLAN': [plan] }] } = await client.query(`EXPLAIN (FORMAT JSON) SELECT FROM ${table} WHERE municipality_code = $1`, [code]);
  return plan.Plan['Plan Rows'];
}

async function collided<T>(statement: Promise<T>): Promise<T> {
  try {
    return await statement;
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    throw new ImportFailure('a resident or ticket of this municipality was entered while the import ran; nothing was written, run the import again');
  }
}

/**
 * Whether the job's report lists every rejected row: not while the job runs, nor once later
 * imports have replaced it. A failed job has a report only when rejected rows failed it (mode
 * ABORT); one that failed for another reason (a file that is not CSV, an interrupted upload) wrote
 * none, and an empty one would read as "nothing rejected".
 */
export function reportComplete(job: ImportJob): boolean {
  const listedAll = job.rejectionsListed === job.rowsRejected;
  if (job.status === ImportStatus.SUCCEEDED) return listedAll;
  return job.status === ImportStatus.FAILED && job.rejectionsListed > 0 && listedAll;
}

/**
 * Jobs left RUNNING by a process that died read as FAILED: their transaction never committed. Known
 * when the job's database session is gone and its heartbeat SESSION_GONE_AFTER_MS old; otherwise
 * once its heartbeat is STALE_AFTER_MS old. The heartbeat's age is reckoned on the database's clock,
 * which wrote it and which failStale reads: this server's may differ from it, and from other servers'.
 */
async function reportStale(db: EntityManager, jobs: ImportJob[]): Promise<ImportJob[]> {
  const running = (job: ImportJob) => job.status === ImportStatus.RUNNING || job.status === ImportStatus.QUEUED;
  if (!jobs.some(running)) return jobs;
  const pids = jobs.filter(running).flatMap((job) => (job.backendPid === null ? [] : [job.backendPid]));
  const [{ now, alive }]: { now: Date; alive: number[] }[] = await db.query(
    'SELECT now(), ARRAY(SELECT pid FROM pg_stat_activity WHERE pid = ANY($1)) AS alive', [pids]);
  return jobs.map((job) => {
    const silent = now.getTime() - job.heartbeatAt.getTime();
    const gone = job.backendPid !== null && !alive.includes(job.backendPid) && silent > SESSION_GONE_AFTER_MS;
    if (!running(job) || (!gone && silent <= STALE_AFTER_MS)) return job;
    return Object.assign(job, { status: ImportStatus.FAILED, phase: null, failureReason: STALE_REASON });
  });
}
