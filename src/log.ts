import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { DestinationStream, Logger } from 'pino';

/**
 * The server's log: one JSON object a line on standard error (level, time, msg), so that standard
 * output keeps what people read (the start-up banner, the command line's answers). A line written
 * while a request is served names it: its id (the X-Request-Id of its answer, the requestId of its
 * operation-log events) and, once known, its municipality and operation.
 */
export type Log = Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What each line of a request's log says of it. */
export interface RequestFields {
  requestId: string;
  municipalityCode?: string | null;
  operation?: string;
}

const requests = new AsyncLocalStorage<RequestFields>();

/** Runs `work` as the request `fields` names: every line it logs, and every job it starts, carries them. */
export function withRequest<T>(fields: RequestFields, work: () => T): T {
  return requests.run(fields, work);
}

/** The request being served, if any. */
export function currentRequest(): RequestFields | undefined {
  return requests.getStore();
}

/** Adds what has become known of the request being served (its municipality, its operation). */
export function noteRequest(fields: Partial<RequestFields>): void {
  const current = requests.getStore();
  if (current) Object.assign(current, fields);
}

/** Runs `work` as part of no request: a connection's event is not the request that happened to open it. */
export function outsideRequests<T>(work: () => T): T {
  return requests.exit(work);
}

/**
 * PostgreSQL errors (and TypeORM's, which copies their fields) carry row values in `detail`
 * ("Key (my_number_hmac)=(\x…) already exists", "Failing row contains (…)"), `where` (a COPY's
 * line and value) and `internalQuery`, and the statement's values in `parameters`: none of them
 * may reach the log.
 */
const ROW_VALUES = new Set(['detail', 'where', 'internalQuery', 'parameters']);

/**
 * A data exception (SQLSTATE class 22) quotes the value it refused in its very message
 * (`invalid input syntax for type date: "1990-13-01"`), which the causes' messages and the stacks
 * repeat: with one in the chain, quoted text in those is left out.
 */
const DATA_EXCEPTION = /^22/;
const QUOTED = /"(?:[^"\\]|\\.)*"/g;

function withoutRowValues(value: unknown, seen: Set<unknown>, unquote: boolean): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => withoutRowValues(item, seen, unquote));
  const kept: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (ROW_VALUES.has(key)) continue;
    kept[key] = unquote && (key === 'message' || key === 'stack') && typeof item === 'string' ? item.replace(QUOTED, '"…"') : withoutRowValues(item, seen, unquote);
  }
  return kept;
}

function holdsDataException(value: unknown, seen = new Set<unknown>()): boolean {
  if (typeof value !== 'object' || value === null || seen.has(value)) return false;
  seen.add(value);
  const { code, cause } = value as { code?: unknown; cause?: unknown };
  // An error's cause, given to its constructor, is no enumerable field.
  return (typeof code === 'string' && DATA_EXCEPTION.test(code)) || [...Object.values(value), cause].some((item) => holdsDataException(item, seen));
}

/**
 * pino's error serializer (type, message, stack, causes, the error's own fields), less row values
 * at any depth (`driverError` included), and less the values a data exception quotes.
 */
export function serializeError(error: unknown): unknown {
  return withoutRowValues(pino.stdSerializers.err(error as Error), new Set(), holdsDataException(error));
}

/** The log at `level`, written to `destination` (standard error unless told, as tests tell it). */
export function createLog(level: LogLevel = 'info', destination: DestinationStream = pino.destination({ dest: 2, sync: true })): Log {
  return pino({
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError },
    // A copy: pino merges the line's own fields into what this returns.
    mixin: () => ({ ...requests.getStore() }),
  }, destination);
}
