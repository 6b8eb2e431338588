import { GraphQLError } from 'graphql';
import { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { Context, countRefusal, createContext, finishRequest } from '../context';
import { ImportJob } from '../entities/import-job.entity';
import { ErrorCode, ErrorCollector, forbidden, InputError, lgwanOnly } from '../errors';
import { notWorking } from '../policies/shield';
import { Channel, ImportMode, ImportStatus, Role } from '../schema/enums';
import { Services } from '../services';
import { checkExportFilter } from '../services/record-export.service';
import { reportComplete, UploadInterrupted } from '../services/resident-import.service';
import { encodingNamed, FileEncoding } from '../validation/encodings';
import { todayInJapan } from '../validation/dates';
import { checkQueryParameters } from '../validation/query-parameters';
import { errorBody, json } from './answers';
import { TransferSlots } from './transfer-slots';

/**
 * CSV in and out over plain HTTP, beside GraphQL: the same token, the same Context and the same
 * ability decide, but bodies stream instead of being buffered.
 */

/**
 * 401 or 403; a refusal counts towards the actor's repeated denials, as one in GraphQL does. An
 * officer refused a registry route on the internet channel is told the channel is why: the same
 * token downloads the record export there.
 */
async function refuse(res: ServerResponse, ctx: Context, registryRoute = false): Promise<void> {
  const why = notWorking(ctx);
  if (why) {
    const code = String(why.extensions.code);
    return json(res, code === 'UNAUTHENTICATED' ? 401 : 403, errorBody(why.message, code));
  }
  await countRefusal(ctx);
  const byChannel = registryRoute && ctx.actor?.role === Role.MUNICIPALITY && ctx.channel === Channel.INTERNET;
  json(res, 403, errorBody((byChannel ? lgwanOnly() : forbidden()).message, 'FORBIDDEN'));
}

/**
 * Answers 503 FUNCTION_SUSPENDED when `e` is the refusal of a function the operator stopped (the
 * services check before the first byte); true if it did.
 */
function suspension(res: ServerResponse, e: unknown): boolean {
  if (!(e instanceof GraphQLError) || e.extensions.code !== 'FUNCTION_SUSPENDED' || res.headersSent) return false;
  json(res, 503, errorBody(e.message, 'FUNCTION_SUSPENDED'));
  return true;
}

/** The headers of a CSV download. */
const csvHeaders = (encoding: FileEncoding, filename: string) => ({
  'content-type': `text/csv; charset=${encoding === 'SJIS' ? 'Shift_JIS' : 'utf-8'}`,
  'content-disposition': `attachment; filename="${filename}"`,
  'cache-control': 'no-store',
});

function badInput(res: ServerResponse, e: InputError): void {
  json(res, 400, { errors: e.errors.map((u) => ({ message: `${u.field.join('.')}: ${u.message}`, extensions: { code: 'BAD_USER_INPUT', field: u.field, reason: u.code } })) });
}

const BUSY = {
  import: 'an import of this municipality is already running; wait for it to finish',
  download: 'this municipality already has as many downloads running as it may; wait for one to finish',
};

/** The slot's release, or null after answering 429 with the limit that was reached. */
function slotFor(res: ServerResponse, slots: TransferSlots, code: string, what: 'import' | 'download'): (() => void) | null {
  const slot = slots.take(code);
  if ('release' in slot) return slot.release;
  const message = slot.refused === 'municipality' ? BUSY[what] : `too many ${what}s are running on this server; try again in a minute`;
  json(res, 429, errorBody(message, 'RATE_LIMITED'), { 'retry-after': '60' });
  return null;
}

function importOptions(url: URL, req: IncomingMessage): { mode: ImportMode; encoding: FileEncoding | null } {
  const errors = new ErrorCollector();
  const refused = checkQueryParameters(url.searchParams, ['mode', 'encoding'], errors);
  const mode = (url.searchParams.get('mode') ?? 'ABORT').trim().toUpperCase();
  if (mode !== ImportMode.ABORT && mode !== ImportMode.SKIP && !refused.has('mode')) errors.add(['mode'], ErrorCode.INVALID_FORMAT, 'must be ABORT or SKIP');
  const charset = /charset=([^;]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
  const parameter = url.searchParams.get('encoding');
  const raw = parameter ?? charset ?? 'auto';
  const encoding = raw.trim().toLowerCase() === 'auto' ? null : encodingNamed(raw);
  // The parameter, when given, decides; otherwise the content type's charset does, and is named as the problem.
  if (encoding === undefined && parameter !== null) {
    if (!refused.has('encoding')) errors.add(['encoding'], ErrorCode.INVALID_FORMAT, 'must be utf8, sjis or auto');
  } else if (encoding === undefined) {
    errors.add(['content-type'], ErrorCode.INVALID_FORMAT, `charset ${raw.trim()} is not read by the import: send utf-8 or Shift_JIS, or no charset to have it detected`);
  }
  errors.throwIfAny();
  return { mode: mode as ImportMode, encoding: encoding ?? null };
}

/** The job's state as the upload's answer and GET /imports/residents/{id} give it. */
const jobState = (job: ImportJob) => ({
  jobId: job.id, status: job.status, phase: job.phase, rowsRead: job.rowsRead, rowsAccepted: job.rowsAccepted, rowsRejected: job.rowsRejected,
  residentsInserted: job.residentsInserted, residentsUpdated: job.residentsUpdated, ticketsInserted: job.ticketsInserted, ticketsUpdated: job.ticketsUpdated, failureReason: job.failureReason,
  rejectionReportComplete: reportComplete(job),
});

/**
 * POST /imports/residents?mode=ABORT|SKIP&encoding=auto|utf8|sjis — the raw CSV is the body.
 * GET /imports/residents/{id} — the job's state; GET /imports/residents/{id}/rejections.csv — its whole rejection report.
 */
export async function residentImport(req: IncomingMessage, res: ServerResponse, url: URL, services: Services, channel: Channel): Promise<void> {
  const [, id, report, ...rest] = url.pathname.slice('/imports/residents'.length).split('/');
  if (rest.length > 0 || (report !== undefined && report !== 'rejections.csv')) {
    return json(res, 404, errorBody('Not found: a job answers at /imports/residents/{id}, its report at /imports/residents/{id}/rejections.csv', 'NOT_FOUND'));
  }
  const method = id === undefined ? 'POST' : 'GET';
  if (req.method !== method) {
    return json(res, 405, errorBody(method === 'POST' ? 'Use POST with the CSV file as the body' : 'Use GET', 'METHOD_NOT_ALLOWED'), { allow: method });
  }
  const ctx = await createContext(services, channel, req);
  try {
    if (id === undefined) await importWith(ctx, req, res, url, services);
    else await jobWith(ctx, res, url, services, id, report !== undefined);
  } finally {
    await finishRequest(ctx);
  }
}

/** The job, or its rejection report as CSV; a job of another municipality reads as missing. */
async function jobWith(ctx: Context, res: ServerResponse, url: URL, services: Services, id: string, report: boolean): Promise<void> {
  const errors = new ErrorCollector();
  const refused = checkQueryParameters(url.searchParams, report ? ['encoding'] : [], errors);
  const encoding = encodingNamed(url.searchParams.get('encoding') ?? 'utf8');
  if (!encoding && !refused.has('encoding')) errors.add(['encoding'], ErrorCode.INVALID_FORMAT, 'must be utf8 or sjis');
  let job;
  try {
    job = await services.imports.readable(ctx, id);
  } catch (e) {
    // Only the policy's refusal is one; a database fault is answered 500 and logged, as any other.
    if (e instanceof GraphQLError && e.extensions.code === 'FORBIDDEN') return refuse(res, ctx, true);
    throw e;
  }
  if (!encoding || errors.errors.length > 0) return badInput(res, new InputError(errors.errors));
  // The report streams on a connection of its own: the request's transaction is done with.
  await ctx.session.finish(true);
  if (!job) return json(res, 404, errorBody('not found or no access', 'NOT_FOUND'));
  if (!report) return json(res, 200, jobState(job));
  // A report is whole or not sent: a header alone would read as "nothing rejected".
  if (!reportComplete(job)) {
    return job.status === ImportStatus.QUEUED || job.status === ImportStatus.RUNNING
      ? json(res, 409, errorBody('the import is still running; its report is written when it ends', 'INVALID_STATE'))
      : json(res, 410, errorBody('no whole report is kept for this job (it failed before one was written, or ten later imports replaced it)', 'GONE'));
  }
  const release = slotFor(res, services.downloads, job.municipalityCode, 'download');
  if (!release) return;
  try {
    await services.imports.writeRejections(job, encoding, res, () => res.writeHead(200, csvHeaders(encoding, `import-${job.id}-rejections.csv`)));
    res.end();
  } finally {
    release();
  }
}

async function importWith(ctx: Context, req: IncomingMessage, res: ServerResponse, url: URL, services: Services): Promise<void> {
  let principal;
  let options;
  try {
    principal = services.imports.principalOf(ctx);
    options = importOptions(url, req);
  } catch (e) {
    req.resume();
    return e instanceof InputError ? badInput(res, e) : refuse(res, ctx, true);
  }
  // The request stays ours: if the import stops reading early, the rest of the body is drained, not the socket destroyed.
  // The client may have gone while its token was checked: no one waits for a job.
  if (req.destroyed) return;
  const release = slotFor(res, services.uploads, principal.municipalityCode, 'import');
  if (!release) {
    req.resume();
    return;
  }
  let running;
  const body = new PassThrough();
  // Until the import reads the body, a client that goes away must not leave an error no one listens to.
  body.on('error', () => undefined);
  req.pipe(body);
  req.on('close', () => {
    if (!req.complete) body.destroy(new UploadInterrupted());
  });
  try {
    const length = Number(req.headers['content-length']);
    running = await services.imports.start(principal, body, { ...options, bytesTotal: Number.isSafeInteger(length) && length > 0 ? length : null });
  } catch (e) {
    release();
    req.unpipe(body);
    req.resume();
    if (suspension(res, e)) return;
    throw e;
  }
  // The slot is held until the job ends, not only while the body arrives (done never rejects).
  void running.done.then(release, release);
  await running.received;
  req.resume();
  // The job is under way whatever happens now: a state not read in time is answered as it started, never as a failure to resend.
  const job = (await services.imports.get(ctx, running.job.id).catch(() => null)) ?? running.job;
  json(res, 202, jobState(job), { location: `/imports/residents/${job.id}` });
}

/** GET /exports/vaccination-records.csv?from=&to=&registeredFrom=&registeredTo=&dose=&encoding=utf8|sjis */
export async function recordExport(req: IncomingMessage, res: ServerResponse, url: URL, services: Services, channel: Channel): Promise<void> {
  if (req.method !== 'GET') return json(res, 405, errorBody('Use GET', 'METHOD_NOT_ALLOWED'), { allow: 'GET' });
  const ctx = await createContext(services, channel, req);
  try {
    await exportWith(ctx, req, res, url, services);
  } finally {
    await finishRequest(ctx);
  }
}

async function exportWith(ctx: Context, _req: IncomingMessage, res: ServerResponse, url: URL, services: Services): Promise<void> {
  let code: string;
  try {
    code = services.exports.municipalityOf(ctx);
  } catch {
    return refuse(res, ctx);
  }
  let filter;
  try {
    filter = checkExportFilter(url.searchParams);
  } catch (e) {
    if (e instanceof InputError) return badInput(res, e);
    throw e;
  }
  const release = slotFor(res, services.downloads, code, 'download');
  if (!release) return;
  try {
    await services.exports.stream(ctx, filter, res, () => res.writeHead(200, csvHeaders(filter.encoding, `vaccination-records-${code}-${todayInJapan()}.csv`)));
  } catch (e) {
    if (!suspension(res, e)) throw e;
  } finally {
    release();
  }
}
