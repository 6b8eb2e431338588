import { ApolloServer, ApolloServerPlugin, HeaderMap } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { unwrapResolverError } from '@apollo/server/errors';
import { DocumentNode, FragmentDefinitionNode, getNamedType, getVariableValues, GraphQLError, GraphQLFormattedError, isCompositeType, Kind, OperationDefinitionNode, SelectionSetNode, ValidationRule } from 'graphql';
import { ComplexityEstimatorArgs, fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { Context, countRefusal, createContext, finishRequest } from '../context';
import { afterAnotherFailed, connectionLost, crossedAnother, outOfTime, readiness } from '../db/pg-client';
import { databaseTimeout, databaseUnavailable } from '../errors';
import { Log, noteRequest, withRequest } from '../log';
import { Channel } from '../schema/enums';
import { buildSchema } from '../schema/build-schema';
import { Services } from '../services';
import { writeAudit } from '../services/audit.service';
import { storableLiterals, unstorableVariable } from '../validation/storable-text';
import { errorBody, json } from './answers';
import { documentCache } from './document-cache';
import { recordExport, residentImport } from './csv.routes';

const MAX_BODY = 1024 * 1024;
/** Time for the headers of any request, and for the whole body of a GraphQL request. */
const HEADERS_MS = 60_000;
const BODY_MS = 60_000;
/** How long a client answered before its body was read (a refusal, a path not served) may go on sending the rest. */
const UNREAD_BODY_MS = 5_000;
/** How long a stopping server lets the requests under way finish before it closes their connections. */
const STOP_GRACE_MS = 20_000;
/** How long /readyz waits for the database's answer. */
const READY_MS = 3_000;
/** How long a request whose connection a stop closed gets to record it (a download's FAILURE log line) before the database goes. */
const CUT_OFF_MS = 5_000;

// Codes whose messages are written for clients; anything else is masked.
const CLIENT_CODES = new Set([
  'UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST', 'FUNCTION_SUSPENDED', 'RATE_LIMITED', 'PASSWORD_CHANGE_REQUIRED', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE',
  'DATABASE_TIMEOUT', 'DATABASE_UNAVAILABLE',
]);

/** Codes of an answer whose request wrote nothing (src/context.ts finishRequest). */
const FAULT_CODES = new Set(['INTERNAL_SERVER_ERROR', 'CONFLICT', 'DATABASE_TIMEOUT', 'DATABASE_UNAVAILABLE', 'NOT_RUN']);

/** Most tokens a query may have: a long literal list costs nothing to resolve, only to parse. */
const MAX_TOKENS = 1500;
/** graphql's refusal of a document past parseOptions.maxTokens ("more that" is its own spelling). */
const TOO_LONG = /^Syntax Error: Document contains more th[a-z]+ \d+ tokens\. Parsing aborted\.$/;

/** Apollo's refusal of introspection, which names the framework and the setting that would allow it. */
const INTROSPECTION_OFF = /^GraphQL introspection is not allowed/;

/**
 * Apollo's refusals of an automatic persisted query it cannot take carry HTTP 400 but no code, which
 * would read as a fault: said as the client's mistake, naming the field.
 */
const PERSISTED_QUERY_REFUSALS = new Map([
  ['provided sha does not match query', 'extensions.persistedQuery.sha256Hash is not the SHA-256 hash of query: send the hash of the query sent with it'],
  ['Unsupported persisted query version', 'extensions.persistedQuery.version must be 1'],
]);

/** graphql's "Did you mean …" ends a message (fields, arguments, types, enum values, in literals and variables alike). */
const SUGGESTION = /\s*Did you mean [\s\S]*$/;

/** The answer to work the database did not serve in time (see outOfTime), logged once as `what` stopped. */
function timedOut(what: string, error: unknown, log: Log): GraphQLFormattedError {
  log.warn({ err: error }, `${what} stopped: the database did not answer in time`);
  return { message: databaseTimeout().message, extensions: { code: 'DATABASE_TIMEOUT' } };
}

/** The answer to work whose connection to the database was lost (see connectionLost), logged once as `what` stopped, without a stack. */
function lostConnection(what: string, error: unknown, log: Log, message = databaseUnavailable().message): GraphQLFormattedError {
  log.warn({ cause: (error as Error | null)?.message }, `${what} stopped: the connection to the database was lost`);
  return { message, extensions: { code: 'DATABASE_UNAVAILABLE' } };
}

/** A commit whose connection was lost under it may have been made all the same: a mutation's client is not told that nothing was written. */
const LOST_AT_COMMIT = 'the connection to the database was lost as this request was committed: it may or may not have been written; read back what it changed before sending it again';

/**
 * Clients see their own mistakes and refusals; faults become a bare INTERNAL_SERVER_ERROR, logged
 * here (the line names the request, src/log.ts), a request that crossed another one is asked to
 * be sent again, and one the database did not serve in time (a lock held by a stuck transaction,
 * say) is told so. Either way the request's
 * transaction is rolled back whole, so the answer never hides a change. In production no answer
 * suggests a name: "Did you mean …" would map the schema for an attacker where introspection is off.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, log: Log, production = false): GraphQLFormattedError {
  const refusal = error instanceof GraphQLError && error.extensions?.code === undefined ? PERSISTED_QUERY_REFUSALS.get(error.message) : undefined;
  if (refusal) return { message: refusal, extensions: { code: 'BAD_REQUEST' } };
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && CLIENT_CODES.has(code)) {
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    // The parser's own token limit names the number, and where it stopped counting: neither is said.
    if (code === 'GRAPHQL_PARSE_FAILED' && TOO_LONG.test(formatted.message)) {
      return { message: 'Query refused: it is too long.', extensions };
    }
    if (code === 'GRAPHQL_VALIDATION_FAILED' && INTROSPECTION_OFF.test(formatted.message)) {
      return { message: 'Query refused: introspection is off; the schema is published as schema.graphql.', extensions };
    }
    // The query limits (armor) call every refusal a syntax error; the query's syntax was fine.
    const message = formatted.message.replace(/^Syntax Error: (?=Query refused: )/, '');
    return { ...formatted, message: production ? message.replace(SUGGESTION, '') : message, extensions };
  }
  const cause = unwrapResolverError(error);
  // Before crossings: a lock not had within a request's lock_timeout is 55P03 too (see outOfTime).
  if (outOfTime(cause)) return { ...timedOut('request', cause, log), path: formatted.path };
  if (connectionLost(cause)) return { ...lostConnection('request', cause, log), path: formatted.path };
  if (crossedAnother(cause)) {
    // Answered, not failed; logged all the same, so that an operator sees how often requests collide.
    log.info({ err: cause }, 'request crossed another and was stopped; its client is asked to send it again');
    return { message: 'another request changed the same data at the same time; nothing of this request was written: send it again', path: formatted.path, extensions: { code: 'CONFLICT' } };
  }
  // A field after the one whose failure ended the request's transaction: that one's error says why.
  if (afterAnotherFailed(cause)) {
    return { message: 'not run: another field of this request failed first, and nothing of this request was written', path: formatted.path, extensions: { code: 'NOT_RUN' } };
  }
  log.error({ err: cause }, 'request failed');
  return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

/**
 * The root fields of `operation`, fragments spread: each field's name and the key it answers under.
 * A fragment is read once however often it is spread, as execution merges it: one that spreads
 * another twice, twenty deep, named a million fields, and a 1 kB query without a token took the
 * server seconds and hundreds of MB before the cost limit refused it.
 */
function rootFields(operation: OperationDefinitionNode, document: DocumentNode): { name: string; key: string }[] {
  const fragments = new Map(document.definitions
    .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const fields: { name: string; key: string }[] = [];
  const spread = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) fields.push({ name: selection.name.value, key: selection.alias?.value ?? selection.name.value });
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (!spread.has(selection.name.value) && fragments.has(selection.name.value)) {
        spread.add(selection.name.value);
        walk(fragments.get(selection.name.value)!.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return fields.filter((f) => f.name !== '__typename');
}

/**
 * The log line of a mutation document undone because one of its mutations failed: the mutations
 * that did answer were rolled back with it, and their own log lines with them. It names every root
 * mutation of the document (FAILURE), or is null when none answered: each failed one logs its own
 * attempt (or, as a throttled login, deliberately none), and a refusal alone costs no line more.
 * A mutation failed when its own field is the error's path; an error deeper in its answer (a field
 * of its payload refused) means it ran, answered, and was undone. Only called for a document that
 * was executed: one refused before (its variables, say) ran nothing to undo.
 */
function undoneEntry(ctx: Context, operation: OperationDefinitionNode, document: DocumentNode, errors: readonly GraphQLFormattedError[]) {
  const fields = rootFields(operation, document);
  const failed = new Set(errors.filter((e) => e.path?.length === 1).map((e) => e.path![0]));
  if (!fields.some((f) => !failed.has(f.key))) return null;
  return { operation: 'mutation.undone', municipalityCode: ctx.actor?.municipalityCode ?? null, targetIds: [...new Set(fields.map((f) => f.name))], outcome: 'FAILURE' as const };
}

/**
 * An operation of a kind the schema has no root type for (a subscription) is the client's mistake:
 * graphql 16 validates it and then fails it at execution, which would read as a fault of the server's.
 */
const knownOperationTypes: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (!context.getSchema().getRootType(node.operation)) {
      context.reportError(new GraphQLError(`This API takes no ${node.operation} operations: send a query or a mutation.`, { nodes: node }));
    }
  },
});

/** Most a query may cost (weights in pageEstimator). */
const MAX_COST = 40_000;
const TOO_COSTLY = 'Query refused: it asks for too much at once; ask for smaller pages (first) or fewer fields.';

/**
 * A list costs what it selects once per row it asks for, however `first` is given (literal,
 * variable or the argument's default: the library resolves them as execution will). A whole page
 * of the largest list (1,000 rejections with every field and the job around them, about 31,000)
 * fits; ten pages of residents with their tickets and doses (about 80,000) do not. The weights
 * are graphql-armor's: an object 2 plus 1.5 times its fields, a leaf 1 (simpleEstimator), or what
 * the field's `complexity` says (a list of ids an operation-log event names).
 */
function pageEstimator({ field, args, childComplexity }: ComplexityEstimatorArgs): number | void {
  if (field.name === '__schema') return 0;
  if (!isCompositeType(getNamedType(field.type))) return undefined;
  // A `first` below 1 is refused by the resolver; it must not lower the cost of the rest.
  const rows = typeof args.first === 'number' ? Math.max(args.first, 1) : 1;
  return (2 + 1.5 * childComplexity) * rows;
}

/**
 * The cost limit runs once the operation and its variables are known: a validation rule sees
 * only the document, so a `first` passed as a variable or left to its default would cost one row.
 */
const costLimit: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ request, document, operation, schema }) {
        // An operationName that names none of the query's operations is Apollo's to refuse, as the client's mistake, saying which.
        if (!operation) return;
        let cost: number;
        try {
          cost = getComplexity({
            schema,
            query: document,
            operationName: request.operationName ?? undefined,
            variables: request.variables,
            estimators: [pageEstimator, fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
          });
        } catch (error) {
          // Variables that do not fit the operation are refused by execution itself, before any
          // resolver (they are coerced once more only here, on the way to that refusal).
          if (getVariableValues(schema, operation?.variableDefinitions ?? [], request.variables ?? {}).errors) return;
          // An argument execution would refuse (a nullable variable left null for `first: Int! = 100`)
          // is graphql's own refusal, located in the document: it is the client's to mend, and is
          // said as such before anything runs, not taken for a costly query.
          if (error instanceof GraphQLError && error.nodes?.length) {
            throw new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
          }
          // Anything else is past the library's count of fields to weigh (fragments spread again
          // and again): nothing that is worth running as asked.
          cost = Infinity;
        }
        if (cost > MAX_COST) {
          // Apollo answers an error thrown here with 500, a fault of the server's, unless it names its status.
          throw new GraphQLError(TOO_COSTLY, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });
        }
      },
    };
  },
};

/**
 * Limits that keep one request from costing the server more than a screen's worth of work.
 * The numbers are not echoed in errors, so a client cannot probe them.
 */
function armor() {
  const refused = (why: string) => ({ exposeLimits: false, errorMessage: `Query refused: ${why}.` });
  return new ApolloArmor({
    maxDepth: { n: 8, flattenFragments: true, ...refused('it nests fields too deeply') },
    maxAliases: { n: 10, ...refused('it uses too many aliases') },
    // The token limit is graphql's own (parseOptions below): armor's would turn every syntax error
    // into a 500 GRAPHQL_VALIDATION_FAILED, a fault of the server's in the client's eyes.
    maxTokens: { enabled: false },
    maxDirectives: { n: 10, ...refused('it uses too many directives') },
    // Armor's cost sees only a literal `first`: the cost is costLimit's, above.
    costLimit: { enabled: false },
    // Armor hides only field suggestions, not enum values': formatError hides them all.
    blockFieldSuggestion: { enabled: false },
  }).protect();
}

export function createApollo(production: boolean, log: Log): ApolloServer<Context> {
  const protection = armor();
  return new ApolloServer<Context>({
    schema: buildSchema(),
    formatError: (formatted, error) => formatError(formatted, error, log, production),
    parseOptions: { maxTokens: MAX_TOKENS },
    documentStore: documentCache(),
    introspection: !production,
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    validationRules: [...protection.validationRules, storableLiterals, knownOperationTypes],
    plugins: [
      ...protection.plugins,
      costLimit,
      {
        // The request's transaction commits, together with its log of personal-data reads, before
        // the client is answered; a failed commit turns the answer into an error. A fault undoes the
        // request, and so does any error in a mutation's answer: a change whose payload comes back
        // null (a field of it refused, say) would otherwise be made while the client reads it as
        // not made. An undone mutation document answers no data, so that no payload of it (another
        // mutation's, say) reads as done, and leaves a log line naming its mutations (undoneEntry).
        // Refusals are counted for intrusion detection.
        async requestDidStart() {
          return {
            // The log names the request's root fields: a 500 reported for a screen is found by what it asked.
            async didResolveOperation({ operation, document }) {
              if (operation) noteRequest({ operation: `${operation.operation} ${rootFields(operation, document).map((f) => f.name).join(',')}` });
            },
            async willSendResponse({ contextValue, response, operation, document }) {
              const answered = response.body.kind === 'single' ? response.body.singleResult.errors ?? [] : [];
              // A document refused before it ran (variables of the wrong type, say) answers no data at all.
              const executed = response.body.kind === 'single' && response.body.singleResult.data !== undefined;
              const undone = answered.some((e) => FAULT_CODES.has(e.extensions?.code as string)) || (operation?.operation === 'mutation' && answered.length > 0);
              const undoneLog = undone && executed && operation?.operation === 'mutation' && document ? undoneEntry(contextValue, operation, document, answered) : null;
              // Kept writes are written on their own once the request's transaction is rolled back.
              if (undoneLog) contextValue.kept.push((db) => writeAudit(db, contextValue, [undoneLog]));
              try {
                await finishRequest(contextValue, undone);
                if (undone && operation?.operation === 'mutation' && response.body.kind === 'single') response.body.singleResult.data = null;
                // A fault in a resolver is the server's, as one before any (a token checked during an outage) already is.
                // A field not run answers as the failure that stopped it does; alone, it is the server's fault.
                const codes = new Set(answered.map((e) => e.extensions?.code));
                if (codes.has('INTERNAL_SERVER_ERROR')) response.http.status = 500;
                else if (codes.has('DATABASE_TIMEOUT') || codes.has('DATABASE_UNAVAILABLE')) response.http.status = 503;
                else if (codes.has('NOT_RUN') && !codes.has('CONFLICT')) response.http.status = 500;
              } catch (error) {
                // A commit can wait on a lock too (the operation log's chain head, linked at commit).
                if (outOfTime(error)) {
                  response.body = { kind: 'single', singleResult: { errors: [timedOut('commit', error, log)] } };
                  response.http.status = 503;
                  return;
                }
                if (connectionLost(error)) {
                  const lost = lostConnection('commit', error, log, operation?.operation === 'mutation' && !undone ? LOST_AT_COMMIT : undefined);
                  response.body = { kind: 'single', singleResult: { errors: [lost] } };
                  response.http.status = 503;
                  return;
                }
                log.error({ err: error }, 'commit failed');
                response.body = { kind: 'single', singleResult: { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] } };
                response.http.status = 500;
                return;
              }
              if (answered.some((e) => e.extensions?.code === 'FORBIDDEN')) {
                // Committed already: a count the database could not take in time is logged, never answered as a failure.
                await countRefusal(contextValue)
                  .catch((error: unknown) => log.error({ err: error }, 'refusals not counted'));
              }
            },
          };
        },
      },
    ],
  });
}

/** The variables of a GET request, as Apollo will read them (malformed ones it refuses itself). */
function variablesOf(url: URL): unknown {
  try {
    return JSON.parse(url.searchParams.get('variables') ?? 'null');
  } catch {
    return null;
  }
}

/** A GraphQL request's body, at most MAX_BODY bytes arriving within BODY_MS: a trickle cannot hold the connection. */
async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  const deadline = setTimeout(() => req.destroy(), BODY_MS);
  try {
    for await (const chunk of req) {
      size += chunk.length;
      if (size > MAX_BODY) throw Object.assign(new Error('request body too large'), { status: 413 });
      chunks.push(chunk);
    }
  } finally {
    clearTimeout(deadline);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The content coding of a request's body other than none ("identity"), as the client named it; null when it has none. */
function compressed(req: IncomingMessage): string | null {
  const codings = (req.headers['content-encoding'] ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '' && c.toLowerCase() !== 'identity');
  return codings.length > 0 ? codings.join(', ') : null;
}

/**
 * The requests being served. A stopping server lets them finish, so that a client gets the answer
 * to a mutation that may already be committed instead of a cut connection it would send again;
 * only uploads are cut off at once (their jobs record that they failed).
 */
class UnderWay {
  private readonly requests = new Map<ServerResponse, Promise<unknown>>();
  private readonly uploads = new Set<IncomingMessage>();
  private stopping = false;

  serve(serve: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>) {
    return (req: IncomingMessage, res: ServerResponse) => {
      // A connection the server is about to close is not offered for another request.
      if (this.stopping) res.setHeader('connection', 'close');
      this.requests.set(res, serve(req, res).finally(() => this.requests.delete(res)));
    };
  }

  upload(req: IncomingMessage): void {
    if (this.stopping) req.socket.destroy();
    this.uploads.add(req);
    req.once('close', () => this.uploads.delete(req));
  }

  /** Resolves when every request has ended, or after `ms`. */
  async stop(ms: number): Promise<void> {
    this.stopping = true;
    for (const req of this.uploads) req.socket.destroy();
    for (const res of this.requests.keys()) if (!res.headersSent) res.setHeader('connection', 'close');
    await this.settled(ms);
  }

  /** Resolves when every request has ended, or after `ms`. */
  async settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.requests.values()), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}

/** One listener = one channel. The channel is a property of the socket, not of anything the client sends. */
function handler(apollo: ApolloServer<Context>, services: Services, channel: Channel, underWay: UnderWay) {
  // A GraphQL request's statements are bounded; the CSV routes' long work (an export's COPY, an import's merge) runs on connections of its own, as long as it needs.
  const statementTimeoutMs = (services.config.statementTimeoutSeconds ?? 30) * 1000;
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      // A request line that is no path at all ('//x:99999') is the client's mistake, not a fault.
      const url = URL.canParse(req.url ?? '/', 'http://localhost') ? new URL(req.url ?? '/', 'http://localhost') : null;
      if (!url) return json(res, 400, errorBody('Bad request path', 'BAD_REQUEST'));
      if ((url.pathname === '/healthz' || url.pathname === '/readyz') && req.method !== 'GET' && req.method !== 'HEAD') {
        return json(res, 405, errorBody('Use GET (or HEAD)', 'METHOD_NOT_ALLOWED'), { allow: 'GET, HEAD' });
      }
      // Node sends no body in answer to HEAD.
      if (url.pathname === '/healthz') return json(res, 200, { status: 'ok' });
      if (url.pathname === '/readyz') {
        // A database that does not answer at all (hung, network gone) is as unavailable as one that refuses.
        const answered = await readiness(services.db, READY_MS);
        return json(res, answered === 'ready' ? 200 : 503, { status: answered });
      }
      // No route decompresses: a compressed body would be read as JSON or CSV, and an import
      // would fail on a header it cannot read. It is refused before anything runs (RFC 9110 §15.5.16).
      const coding = compressed(req);
      if (coding) {
        return json(res, 415, errorBody(`Content-Encoding ${coding} is not read: send the body uncompressed`, 'UNSUPPORTED_MEDIA_TYPE'), { 'accept-encoding': 'identity' });
      }
      // The log names a request by its method and path until a GraphQL one's operation is known.
      noteRequest({ operation: `${req.method} ${url.pathname}` });
      // CSV routes stream their bodies; only GraphQL bodies are buffered (and capped).
      if (url.pathname === '/imports/residents' || url.pathname.startsWith('/imports/residents/')) {
        if (req.method === 'POST') underWay.upload(req);
        return await residentImport(req, res, url, services, channel);
      }
      if (url.pathname === '/exports/vaccination-records.csv') return await recordExport(req, res, url, services, channel);
      if (url.pathname !== '/graphql') {
        return json(res, 404, errorBody('Not found: the API answers at /graphql', 'NOT_FOUND'));
      }
      // A browser's CORS preflight included: no origin but the clients' own is served (README).
      if (req.method !== 'GET' && req.method !== 'POST') {
        return json(res, 405, errorBody('Use POST (or GET for queries); cross-origin requests from browsers are not served', 'METHOD_NOT_ALLOWED'), { allow: 'GET, POST' });
      }

      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      const raw = req.method === 'POST' ? await readBody(req) : '';
      let body: unknown = raw;
      // Media types are case-insensitive (RFC 9110 §8.3.1).
      if (raw && headers.get('content-type')?.toLowerCase().startsWith('application/json')) {
        try {
          // A byte order mark, which Windows tools put before UTF-8 text, is ignored (RFC 8259 §8.1).
          body = JSON.parse(raw.replace(/^\ufeff/, ''));
        } catch {
          return json(res, 400, errorBody('Body is not valid JSON', 'BAD_REQUEST'));
        }
      }
      const unstorable = unstorableVariable(typeof body === 'object' && body ? (body as { variables?: unknown }).variables : variablesOf(url));
      if (unstorable) {
        const { field, message } = unstorable;
        return json(res, 400, errorBody(`${field.join('.')} ${message}`, 'BAD_USER_INPUT', field));
      }
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
        // A token is checked on a pooled connection: one not had in time is answered as any request the database did not serve.
        context: () => createContext(services, channel, req, statementTimeoutMs).catch((error) => {
          throw outOfTime(error) ? databaseTimeout() : connectionLost(error) ? databaseUnavailable() : error;
        }),
      });
      for (const [key, value] of response.headers) res.setHeader(key, value);
      res.statusCode = response.status ?? 200;
      if (response.body.kind === 'complete') return res.end(response.body.string);
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    } catch (error) {
      // An import, export or report the database did not serve in time (no connection had), or whose connection it lost, is told so, as a GraphQL request is.
      const late = outOfTime(error) ? timedOut('request', error, services.log)
        : connectionLost(error) ? lostConnection('request', error, services.log) : null;
      const status = late ? 503 : (error as { status?: number }).status ?? 500;
      // A client that went away mid-download, or before it had sent its whole request, is no fault of the server's.
      const gone = (error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' || (req.destroyed && !req.complete);
      if (status === 500 && !gone) services.log.error({ err: error }, 'http handler failed');
      if (!res.headersSent) {
        json(res, status, status === 413
          ? errorBody('Request body too large: a GraphQL request may be at most 1 MB', 'PAYLOAD_TOO_LARGE')
          : late ? errorBody(late.message, late.extensions!.code as string) : errorBody('Internal server error', 'INTERNAL_SERVER_ERROR'));
      }
      // A body already under way is cut off, not ended: the client must not take half a file for a whole one.
      else res.destroy();
    }
  };
  // Every answer names its request, so that a fault a client reports is found in the log (and in the operation log).
  return (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    return withRequest({ requestId }, async () => {
      await serve(req, res);
      closeIfUnread(req, res);
    });
  };
}

/**
 * A body the answer did not wait for (a refusal, a path not served, a body sent with a GET) is
 * thrown away as it arrives, and gets UNREAD_BODY_MS after the answer before its connection is
 * closed: Node reads it to its end however slowly it comes, so a client sending a byte a second
 * held a connection without any token for ever on LG-WAN, and five minutes on the internet. An
 * import's job reads its own body (202): an upload is bounded by its silence alone.
 */
function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || req.destroyed || res.statusCode === 202) return;
  const cut = setTimeout(() => req.socket.destroy(), UNREAD_BODY_MS);
  cut.unref();
  req.once('end', () => clearTimeout(cut));
}

/** How far a connection has got: bytes read, bytes the server wrote, and bytes still waiting for the client to take them. */
function progressOf(socket: Socket): string {
  // The queue is libuv's, as Node's own idle timeout reads it: it shrinks while a slow client still reads.
  const queued = (socket as unknown as { _handle?: { writeQueueSize?: number } })._handle?.writeQueueSize ?? 0;
  return `${socket.bytesRead}/${socket.bytesWritten}/${queued}`;
}

/**
 * Closes every connection of `server` on which nothing moved for `ms`: no byte came in, and none
 * went out or was taken by the client. Node's own idle timeout (`server.timeout`) is not used: it
 * compares the pending write with its size when the write was handed out, not when the timer last
 * looked, so a write stuck behind full buffers (a download its client stopped reading) reads as
 * moving once and is given a second round: the download held its database connection and its slot
 * for twice IDLE_SECONDS. A connection whose request has been read whole and whose answer has not
 * begun is the server's to answer, not silent: a city's whole ticket issuance runs for minutes
 * without a byte on its connection, and was cut off before its answer. Returns the function that
 * stops watching.
 */
function closeWhenIdle(server: Server, ms: number): () => void {
  const watched = new Map<Socket, { progress: string; since: number }>();
  // The answer each connection owes last, by its socket (a kept-alive connection's latest request).
  const answering = new Map<Socket, ServerResponse>();
  server.on('connection', (socket: Socket) => {
    watched.set(socket, { progress: progressOf(socket), since: Date.now() });
    socket.once('close', () => {
      watched.delete(socket);
      answering.delete(socket);
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => answering.set(req.socket, res));
  const working = (socket: Socket) => {
    const res = answering.get(socket);
    return !!res && res.req.complete && !res.headersSent && !res.writableEnded;
  };
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [socket, last] of watched) {
      const progress = progressOf(socket);
      if (progress !== last.progress || working(socket)) watched.set(socket, { progress, since: now });
      else if (now - last.since >= ms) socket.destroy();
    }
  }, Math.min(1000, Math.max(ms / 10, 50)));
  timer.unref();
  return () => clearInterval(timer);
}

export interface Listeners {
  internetUrl: string;
  lgwanUrl: string;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address() as AddressInfo;
      resolve(`http://${host}:${actual}`);
    });
  });
}

/** Starts the internet and LG-WAN listeners around one Apollo server. Port 0 picks a free port. */
export async function startListeners(services: Services, ports: { internet: number; lgwan: number; host: string; lgwanHost: string }): Promise<Listeners> {
  const apollo = createApollo(services.config.production, services.log);
  await apollo.start();
  const underWay = new UnderWay();
  // Node looks for requests past their time every 30 s unless told: headers given 60 s had up to 90.
  const timing = { headersTimeout: HEADERS_MS, connectionsCheckingInterval: 1_000 };
  const internet = createServer(timing, underWay.serve(handler(apollo, services, Channel.INTERNET, underWay)));
  // A registry file of a million residents may take longer to upload than Node's default limit
  // for a whole request (300 s) over a slow network: the LG-WAN listener limits only silence,
  // and the headers' time (which Node would otherwise derive from the request's, to none).
  const lgwan = createServer({ ...timing, requestTimeout: 0 }, underWay.serve(handler(apollo, services, Channel.LGWAN, underWay)));
  // On both, a connection silent that long is closed: a stalled upload fails, and a download its
  // client stopped reading gives back its database connection.
  const idleMs = (services.config.idleSeconds ?? 120) * 1000;
  const unwatch = [internet, lgwan].map((s) => closeWhenIdle(s, idleMs));
  const [internetUrl, lgwanUrl] = await Promise.all([listen(internet, ports.internet, ports.host), listen(lgwan, ports.lgwan, ports.lgwanHost)]);
  return {
    internetUrl,
    lgwanUrl,
    async close() {
      // No new connection is accepted and idle ones close; those still serving close after STOP_GRACE_MS.
      const closed = [internet, lgwan].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      await underWay.stop(STOP_GRACE_MS);
      for (const s of [internet, lgwan]) s.closeAllConnections();
      // A download cut off here still writes its log line (FAILURE, the rows sent) while the database is there.
      await underWay.settled(CUT_OFF_MS);
      await Promise.all(closed);
      for (const stop of unwatch) stop();
      await apollo.stop();
    },
  };
}
