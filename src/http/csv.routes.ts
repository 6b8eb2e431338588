import { GraphQLError } from 'graphql';
import { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { Context, createContext, finishRequest } from '../context';
import { PlatformFunction } from '../entities/function-suspension.entity';
import { ErrorCode, InputError } from '../errors';
import { Channel, ImportMode } from '../schema/enums';
import { Services } from '../services';
import { checkExportFilter } from '../services/record-export.service';
import { UploadInterrupted } from '../services/resident-import.service';
import { encodingNamed, FileEncoding } from '../validation/encodings';
import { todayInJapan } from '../validation/dates';

/**
 * CSV in and out over plain HTTP, beside GraphQL: the same token, the same Context and the same
 * ability decide, but bodies stream instead of being buffered.
 */

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

const error = (message: string, code: string, field?: string[]) => ({ errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }] });

/** 401 or 403; a refusal counts towards the actor's repeated denials, as one in GraphQL does. */
async function refuse(res: ServerResponse, ctx: Context): Promise<void> {
  if (!ctx.actor) return json(res, 401, error('Authentication required', 'UNAUTHENTICATED'));
  await ctx.services.detector.denied(ctx.actor, ctx.sourceAddress, 1);
  json(res, 403, error('Not authorised', 'FORBIDDEN'));
}

/** Answers 503 FUNCTION_SUSPENDED when the operator has stopped `fn` for this municipality; true if it did. */
async function suspended(res: ServerResponse, services: Services, fn: PlatformFunction, municipalityCode: string): Promise<boolean> {
  try {
    await services.suspensions.assertAvailable(services.db.manager, fn, municipalityCode);
    return false;
  } catch (e) {
    if (!(e instanceof GraphQLError)) throw e;
    json(res, 503, error(e.message, 'FUNCTION_SUSPENDED'));
    return true;
  }
}

function badInput(res: ServerResponse, e: InputError): void {
  json(res, 400, { errors: e.errors.map((u) => ({ message: `${u.field.join('.')}: ${u.message}`, extensions: { code: 'BAD_USER_INPUT', field: u.field, reason: u.code } })) });
}

function importOptions(url: URL, req: IncomingMessage): { mode: ImportMode; encoding: FileEncoding | null } {
  const mode = (url.searchParams.get('mode') ?? 'ABORT').toUpperCase();
  if (mode !== ImportMode.ABORT && mode !== ImportMode.SKIP) throw InputError.of(['mode'], ErrorCode.INVALID_FORMAT, 'must be ABORT or SKIP');
  const charset = /charset=([^;]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
  const raw = url.searchParams.get('encoding') ?? charset ?? 'auto';
  const encoding = raw.trim().toLowerCase() === 'auto' ? null : encodingNamed(raw);
  if (encoding === undefined) throw InputError.of(['encoding'], ErrorCode.INVALID_FORMAT, 'must be utf8, sjis or auto');
  return { mode: mode as ImportMode, encoding };
}

/** POST /imports/residents?mode=ABORT|SKIP&encoding=auto|utf8|sjis — the raw CSV is the body. */
export async function residentImport(req: IncomingMessage, res: ServerResponse, url: URL, services: Services, channel: Channel): Promise<void> {
  if (req.method !== 'POST') return json(res, 405, error('Use POST with the CSV file as the body', 'METHOD_NOT_ALLOWED'), { allow: 'POST' });
  const ctx = await createContext(services, channel, req);
  try {
    await importWith(ctx, req, res, url, services);
  } finally {
    await finishRequest(ctx);
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
    return e instanceof InputError ? badInput(res, e) : refuse(res, ctx);
  }
  if (await suspended(res, services, PlatformFunction.IMPORT, principal.municipalityCode)) {
    req.resume();
    return;
  }
  // The request stays ours: if the import stops reading early, the rest of the body is drained, not the socket destroyed.
  // The client may have gone while the token and the suspensions were checked: no one waits for a job.
  if (req.destroyed) return;
  const body = new PassThrough();
  req.pipe(body);
  req.on('close', () => {
    if (!req.complete) body.destroy(new UploadInterrupted());
  });
  const length = Number(req.headers['content-length']);
  const running = await services.imports.start(principal, body, { ...options, bytesTotal: Number.isFinite(length) && length > 0 ? length : null });
  await running.received;
  req.resume();
  const job = (await services.imports.get(ctx, running.job.id)) ?? running.job;
  json(res, 202, {
    jobId: job.id,
    status: job.status,
    rowsRead: job.rowsRead,
    rowsRejected: job.rowsRejected,
    failureReason: job.failureReason,
  }, { location: `/imports/residents/${job.id}` });
}

/** GET /exports/vaccination-records.csv?from=&to=&dose=&encoding=utf8|sjis */
export async function recordExport(req: IncomingMessage, res: ServerResponse, url: URL, services: Services, channel: Channel): Promise<void> {
  if (req.method !== 'GET') return json(res, 405, error('Use GET', 'METHOD_NOT_ALLOWED'), { allow: 'GET' });
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
  if (await suspended(res, services, PlatformFunction.EXPORT, code)) return;
  res.writeHead(200, {
    'content-type': `text/csv; charset=${filter.encoding === 'SJIS' ? 'Shift_JIS' : 'utf-8'}`,
    'content-disposition': `attachment; filename="vaccination-records-${code}-${todayInJapan()}.csv"`,
    'cache-control': 'no-store',
  });
  await services.exports.stream(ctx, filter, res);
}
