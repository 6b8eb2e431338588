import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Channel, Role } from '../../src/schema/enums';
import { registryCsv, registryRow } from '../helpers/registry-csv';
import { codes, registerResident, TestApp } from '../helpers/test-app';

let t: TestApp;
let prod: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
  prod = await TestApp.start({ production: true });
});
afterAll(async () => {
  await t.stop();
  await prod.stop();
});

/** The whole answer, status line to body, to `request` written as it is on a connection of its own to `channel`'s listener. */
function rawRequest(app: TestApp, channel: Channel, request: string): Promise<string> {
  const url = new URL(app.url(channel));
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(url.port), url.hostname, () => socket.write(request));
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

async function post(app: TestApp, body: unknown, token?: string) {
  const response = await fetch(app.url(Channel.LGWAN), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text(), requestId: response.headers.get('x-request-id') };
}

describe('query abuse', () => {
  it('rejects a deeply nested query before resolving anything, without naming the limit', async () => {
    const { officer } = await t.tenant();
    const ordinary = '{ viewer { municipality { code } } residents { nodes { municipality { code } } } }';
    expect(codes(await officer.gql(ordinary))).toEqual([]);
    // A valid query whose only fault is its depth: __type › fields › type › ofType… › name.
    const nested = (levels: number) => `{ __type(name: "Resident") { fields { type { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } } } }`;
    expect(codes(await officer.gql(nested(4)))).toEqual([]);
    const result = await officer.gql(nested(6));
    expect(result.data).toBeUndefined();
    expect(result.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['GRAPHQL_VALIDATION_FAILED', 'Query refused: it nests fields too deeply.']]);
    expect(JSON.stringify(result)).not.toMatch(/\b8\b/);
  });

  it('rejects queries past the token, directive and cost limits, and answers the same queries below them', async () => {
    const { officer } = await t.tenant();
    const refused = (r: { data?: unknown; errors?: { extensions?: { code?: string } }[] }) => r.data === undefined && codes(r as never).includes('GRAPHQL_VALIDATION_FAILED');
    // Tokens: a long literal list costs nothing to resolve, only to parse.
    const tickets = (n: number) => `mutation { issueTickets(input: { series: "1-2", tickets: [${'{ residentId: "00000000-0000-4000-8000-000000000000" } '.repeat(n)}] }) { issuedCount userErrors { code } } }`;
    expect(codes(await officer.gql(tickets(10)))).toEqual([]);
    const tooLong = await post(t, { query: tickets(400) }, officer.token);
    expect(tooLong.status).toBe(400);
    expect(JSON.parse(tooLong.text)).toEqual({ errors: [{ message: 'Query refused: it is too long.', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    const skips = (n: number) => `{ viewer { ${'role @include(if: true) '.repeat(n)}} }`;
    expect(codes(await officer.gql(skips(2)))).toEqual([]);
    expect(refused(await officer.gql(skips(11)))).toBe(true);
    const record = 'id doseNumber vaccinatedOn vaccineCode manufacturer lotNumber siteMunicipalityCode source status';
    const costly = (aliases: number) => `{ ${Array.from({ length: aliases }, (_, i) => `r${i}: residents(first: 100) { nodes { id addresseeNumber familyName givenName birthDate municipality { code name prefectureCode } tickets { id ticketNumber series } vaccinations { ${record} } } }`).join(' ')} }`;
    expect(codes(await officer.gql(costly(1)))).toEqual([]);
    const tooCostly = await officer.gql(costly(10));
    expect(refused(tooCostly)).toBe(true);
    expect(tooCostly.errors?.map((e) => e.message)).toEqual(['Query refused: it asks for too much at once; ask for smaller pages (first) or fewer fields.']);
    // The largest page the schema offers, with every field, is no abuse.
    const job = `importJob(id: "00000000-0000-4000-8000-000000000000") { id municipalityCode status phase mode encoding bytesRead bytesTotal
      rowsRead rowsAccepted rowsRejected residentsInserted residentsUpdated ticketsInserted ticketsUpdated failureReason progress createdAt finishedAt
      rejections(first: 1000) { nodes { line column field code message } hasNextPage endCursor complete } }`;
    expect(await officer.gql(`{ ${job} }`)).toEqual({ data: { importJob: null } });
  });

  it('charges a page the same cost whether `first` is a literal, a variable or the argument\'s default', async () => {
    const { officer } = await t.tenant();
    const TOO_COSTLY = { errors: [{ message: 'Query refused: it asks for too much at once; ask for smaller pages (first) or fewer fields.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] };
    const tenTimes = (field: string, times = 10) => Array.from({ length: times }, (_, i) => `a${i}: ${field}`).join(' ');
    const rejections = (jobs: string, rows: string) => tenTimes(`importJobs${jobs} { rejections${rows} { nodes { line column field code message } } }`);
    const events = (first: string, times = 10) => tenTimes(`auditEvents${first} { nodes { actorId channel id municipalityCode occurredAt operation outcome requestId role seq targetIds } endCursor }`, times);
    for (const body of [
      { query: `{ ${rejections('(first: 100)', '(first: 1000)')} }` },
      { query: `query($n: Int!, $m: Int!) { ${rejections('(first: $n)', '(first: $m)')} }`, variables: { n: 100, m: 1000 } },
      // The defaults (20 jobs, 100 rejections each) are as costly as the same numbers typed out.
      { query: `{ ${rejections('(first: 20)', '(first: 100)')} }` },
      { query: `{ ${rejections('', '')} }` },
      { query: `query($n: Int! = 20) { ${rejections('(first: $n)', '')} }` },
      { query: `{ ${events('(first: 500)')} }` },
      { query: `query($n: Int!) { ${events('(first: $n)')} }`, variables: { n: 500 } },
      // A page asked for below one row does not pay for the others.
      { query: `query($n: Int!, $none: Int!) { ${events('(first: $n)', 9)} z: auditEvents(first: $none) { endCursor } }`, variables: { n: 250, none: -1_000_000_000 } },
      // An event names up to a thousand ids: ten pages of them alone were 200 MB to answer.
      { query: `{ ${tenTimes('auditEvents(first: 500) { nodes { targetIds } }')} }` },
      { query: `{ ${tenTimes('auditEvents(first: 100) { nodes { targetIds } }')} }` },
    ]) {
      const { status, text } = await post(t, body, officer.token);
      expect([status, JSON.parse(text)]).toEqual([400, TOO_COSTLY]);
    }
    // The same lists at a size a screen shows are answered, however `first` is given, and so is the
    // largest page of events with every field.
    expect(codes(await officer.gql(`query($n: Int!) { ${events('(first: $n)', 5)} }`, { n: 100 }))).toEqual([]);
    expect(codes(await officer.gql(`{ ${events('', 5)} }`))).toEqual([]);
    expect(codes(await officer.gql(`{ ${events('(first: 500)', 1)} }`))).toEqual([]);
    // The largest page the schema offers, with every field, is no abuse when `first` is a variable either.
    const job = `query($id: ID!, $first: Int!) { importJob(id: $id) { id municipalityCode status phase mode encoding bytesRead bytesTotal
      rowsRead rowsAccepted rowsRejected residentsInserted residentsUpdated ticketsInserted ticketsUpdated failureReason progress createdAt finishedAt
      rejections(first: $first) { nodes { line column field code message } hasNextPage endCursor complete } } }`;
    expect(await officer.gql(job, { id: '00000000-0000-4000-8000-000000000000', first: 1000 })).toEqual({ data: { importJob: null } });
    // Variables that do not fit the operation are answered as such, not as a costly query.
    expect(codes(await officer.gql('query($n: Int!) { auditEvents(first: $n) { endCursor } }', { n: 'many' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses fragments that spread each other twice over as too costly, at once, without a token', async () => {
    // Under 1 kB that names one field 2^23 times: each fragment spreads the next one twice. Read
    // fragment by fragment, as execution reads them, it is refused in a moment; walked spread by
    // spread to name the request's fields in the log, it held the server for 25 s and 1.3 GB.
    const depth = 23;
    const fragments = Array.from({ length: depth }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    const query = `{ ...F0 } ${fragments} fragment F${depth} on Query { vaccines { code } }`;
    const started = Date.now();
    const { status, text } = await post(t, { query });
    expect([status, JSON.parse(text)]).toEqual([400, { errors: [{ message: 'Query refused: it asks for too much at once; ask for smaller pages (first) or fewer fields.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('answers a null given to an argument with a default as that argument\'s mistake, not as a costly query', async () => {
    const { officer } = await t.tenant();
    const mustNotBeNull = (argument: string, type: string, column: number) => ({ errors: [{ message: `Argument "${argument}" of non-null type "${type}" must not be null.`, locations: [{ line: 1, column }], extensions: { code: 'BAD_USER_INPUT' } }] });
    // Every list's `first`, from a variable sent as null or left to its own default of null.
    for (const list of ['auditEvents', 'importJobs', 'pendingDoses', 'residents', 'securityAlerts', 'tickets']) {
      for (const [query, variables] of [[`query($n: Int) { ${list}(first: $n) { __typename } }`, { n: null }], [`query($n: Int = null) { ${list}(first: $n) { __typename } }`, {}]] as const) {
        const { status, text } = await post(t, { query, variables }, officer.token);
        expect([list, status, JSON.parse(text)]).toEqual([list, 400, mustNotBeNull('first', 'Int!', query.indexOf('$n)') + 1)]);
      }
    }
    const nested = 'query($n: Int) { importJobs { rejections(first: $n) { nodes { line } } } }';
    expect(JSON.parse((await post(t, { query: nested, variables: { n: null } }, officer.token)).text)).toEqual(mustNotBeNull('first', 'Int!', nested.indexOf('$n)') + 1));
    const history = 'query($h: Boolean) { residents { nodes { vaccinations(includeHistory: $h) { id } } } }';
    expect(JSON.parse((await post(t, { query: history, variables: { h: null } }, officer.token)).text)).toEqual(mustNotBeNull('includeHistory', 'Boolean!', history.indexOf('$h)') + 1));
    // Left out, the variable gives way to the argument's default.
    expect(await officer.gql('query($n: Int) { auditEvents(first: $n) { endCursor } }')).toEqual({ data: { auditEvents: { endCursor: null } } });
  });

  it('answers an operationName that names no operation of the query as the client\'s mistake, not as a costly query', async () => {
    const resolution = (message: string) => ({ errors: [{ message, extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] });
    const unknown = await post(t, { query: '{ __typename }', operationName: 'Nope' });
    expect([unknown.status, JSON.parse(unknown.text)]).toEqual([400, resolution('Unknown operation named "Nope".')]);
    const unnamed = await post(t, { query: 'query A { __typename } query B { __typename }' });
    expect([unnamed.status, JSON.parse(unnamed.text)]).toEqual([400, resolution('Must provide operation name if query contains multiple operations.')]);
  });

  it('answers a syntax error as the client\'s mistake, with the parser\'s own message', async () => {
    for (const app of [t, prod]) {
      const { officer } = await app.tenant();
      const { status, text } = await post(app, { query: '{ viewer { ' }, officer.token);
      expect(status).toBe(400);
      const body = JSON.parse(text);
      expect(body.errors).toEqual([{ message: 'Syntax Error: Expected Name, found <EOF>.', locations: [{ line: 1, column: 12 }], extensions: { code: 'GRAPHQL_PARSE_FAILED' } }]);
      expect(text).not.toMatch(/stacktrace|\bat /);
    }
  });

  it('refuses a subscription as the client\'s mistake: the API has none', async () => {
    const { officer } = await t.tenant();
    const { status, text, requestId } = await post(t, { query: 'subscription { viewer { role } }' }, officer.token);
    expect([status, JSON.parse(text)]).toEqual([400, {
      errors: [{ message: 'This API takes no subscription operations: send a query or a mutation.', locations: [{ line: 1, column: 1 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }],
    }]);
    expect(t.log.entries.filter((e) => e.requestId === requestId)).toEqual([]);
  });

  it('refuses an over-long document as the client\'s mistake, without naming the limit', async () => {
    // Valid but for its length: one field asked for again and again.
    const long = `{ viewer { ${'role '.repeat(2000)}} }`;
    for (const app of [t, prod]) {
      const { officer } = await app.tenant();
      const { status, text } = await post(app, { query: long }, officer.token);
      expect(status).toBe(400);
      expect(JSON.parse(text)).toEqual({ errors: [{ message: 'Query refused: it is too long.', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
      expect(text).not.toMatch(/1500|1501|\d{3,}/);
    }
    // So is a document whose syntax breaks only after the limit.
    const broken = await post(t, { query: `${long.slice(0, -2)} {` });
    expect(JSON.parse(broken.text).errors.map((e: { message: string }) => e.message)).toEqual(['Query refused: it is too long.']);
  });

  it('rejects a query with many aliases (the brute-force-in-one-request shape)', async () => {
    const { officer } = await t.tenant();
    const guesses = Array.from({ length: 50 }, (_, i) => `g${i}: residentByMyNumber(myNumber: "123456789018") { id }`).join(' ');
    const result = await officer.gql(`{ ${guesses} }`);
    expect(codes(result)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(result.data).toBeUndefined();
  });

  it('refuses a GraphQL body over 1 MB with 413, saying so', async () => {
    const { status, text } = await post(t, { query: `{ viewer { role } } #${'x'.repeat(1024 * 1024)}` });
    expect([status, JSON.parse(text)]).toEqual([413, { errors: [{ message: 'Request body too large: a GraphQL request may be at most 1 MB', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] }]);
  });

  it('refuses a compressed body with 415, saying so, before anything runs: a GraphQL request and a registry import alike', async () => {
    const { officer } = await t.tenant();
    const refusal = (coding: string) => ({ errors: [{ message: `Content-Encoding ${coding} is not read: send the body uncompressed`, extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } }] });
    const sent = async (path: string, type: string, coding: string, body: string) => {
      const response = await fetch(`${t.app.listeners.lgwanUrl}${path}`, {
        method: 'POST', headers: { 'content-type': type, 'content-encoding': coding, authorization: `Bearer ${officer.token}` }, body: gzipSync(body),
      });
      return [response.status, response.headers.get('accept-encoding'), await response.json()];
    };
    expect(await sent('/graphql', 'application/json', 'gzip', JSON.stringify({ query: '{ viewer { role } }' }))).toEqual([415, 'identity', refusal('gzip')]);
    expect(await sent('/imports/residents', 'text/csv', 'GZIP', registryCsv([registryRow()]))).toEqual([415, 'identity', refusal('GZIP')]);
    // No job was started, to fail on a header it cannot read.
    expect((await officer.gql('{ importJobs(first: 1) { id } }')).data).toEqual({ importJobs: [] });
    // "identity" is no coding at all.
    const plain = await fetch(t.url(Channel.LGWAN), {
      method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'identity', authorization: `Bearer ${officer.token}` }, body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect([plain.status, await plain.json()]).toEqual([200, { data: { viewer: { role: 'MUNICIPALITY' } } }]);
  });

  it('refuses batched HTTP requests', async () => {
    const { officer } = await t.tenant();
    const batch = Array.from({ length: 3 }, () => ({ query: '{ viewer { role } }' }));
    const { status, text } = await post(t, batch, officer.token);
    expect(status).toBe(400);
    expect(text).not.toContain('MUNICIPALITY');
  });

  it('answers a persisted query it cannot take as the client\'s mistake, naming the field, not as a fault', async () => {
    const { officer } = await t.tenant();
    const query = '{ viewer { role } }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const persisted = (version: number, hash: string) => ({ extensions: { persistedQuery: { version, sha256Hash: hash } } });
    const logged = t.log.text.length;
    for (const [body, message] of [
      [{ query, ...persisted(1, 'abc') }, 'extensions.persistedQuery.sha256Hash is not the SHA-256 hash of query: send the hash of the query sent with it'],
      [{ query, ...persisted(2, sha256Hash) }, 'extensions.persistedQuery.version must be 1'],
    ] as const) {
      const { status, text } = await post(t, body, officer.token);
      expect([status, JSON.parse(text)]).toEqual([400, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }]);
    }
    expect(t.log.entries.slice(logged).filter((e) => e.level === 'error')).toEqual([]);
    // Sent with its hash, the query is answered, and then the hash alone stands for it.
    expect(JSON.parse((await post(t, { query, ...persisted(1, sha256Hash) }, officer.token)).text)).toEqual({ data: { viewer: { role: 'MUNICIPALITY' } } });
    expect(JSON.parse((await post(t, persisted(1, sha256Hash), officer.token)).text)).toEqual({ data: { viewer: { role: 'MUNICIPALITY' } } });
  });

  it('answers a request line that is no path with 400, and goes on serving', async () => {
    for (const channel of [Channel.INTERNET, Channel.LGWAN]) {
      const answer = await rawRequest(t, channel, 'GET //x:99999/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(answer).toContain(JSON.stringify({ errors: [{ message: 'Bad request path', extensions: { code: 'BAD_REQUEST' } }] }));
      expect((await fetch(t.url(channel).replace(/graphql$/, 'healthz'))).status).toBe(200);
    }
  });

  it('logs no fault for a client that goes away before it has sent its whole request, and goes on serving', async () => {
    const logged = t.log.text.length;
    const url = new URL(t.url(Channel.LGWAN));
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":');
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 500));
    expect((await fetch(t.url(Channel.LGWAN).replace(/graphql$/, 'healthz'))).status).toBe(200);
    expect(t.log.entries.slice(logged).filter((e) => e.level === 'error')).toEqual([]);
  });

  it('answers other methods on /graphql, a browser\'s CORS preflight included, with 405 and the methods it takes', async () => {
    for (const [method, headers] of [['OPTIONS', { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' }], ['PUT', {}], ['DELETE', {}]] as const) {
      const answer = await fetch(t.url(Channel.INTERNET), { method, headers });
      expect([answer.status, answer.headers.get('allow'), answer.headers.get('access-control-allow-origin'), ((await answer.json()) as { errors: { extensions: unknown }[] }).errors[0].extensions])
        .toEqual([405, 'GET, POST', null, { code: 'METHOD_NOT_ALLOWED' }]);
    }
  });

  it('answers /healthz and /readyz to GET and to HEAD, without a body, and other methods with 405 and the methods they take', async () => {
    for (const [path, status] of [['healthz', 'ok'], ['readyz', 'ready']]) {
      const url = t.url(Channel.LGWAN).replace(/graphql$/, path);
      const got = await fetch(url);
      expect([got.status, await got.json()]).toEqual([200, { status }]);
      const head = await rawRequest(t, Channel.LGWAN, `HEAD /${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect([head.split('\r\n')[0], head.split('\r\n\r\n')[1]]).toEqual(['HTTP/1.1 200 OK', '']);
      for (const method of ['DELETE', 'POST', 'PUT', 'OPTIONS']) {
        const answer = await fetch(url, { method });
        expect([answer.status, answer.headers.get('allow'), await answer.json()])
          .toEqual([405, 'GET, HEAD', { errors: [{ message: 'Use GET (or HEAD)', extensions: { code: 'METHOD_NOT_ALLOWED' } }] }]);
      }
    }
  });

  it('uses neither token of a request carrying two Authorization headers, whichever comes first', async () => {
    const { officer } = await t.tenant();
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const query = JSON.stringify({ query: '{ viewer { role } }' });
    const ask = (...tokens: string[]) => rawRequest(t, Channel.LGWAN, `POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${Buffer.byteLength(query)}\r\n${tokens.map((token) => `Authorization: Bearer ${token}\r\n`).join('')}\r\n${query}`);
    const download = (...tokens: string[]) => rawRequest(t, Channel.LGWAN, `GET /exports/vaccination-records.csv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`
      + `${tokens.map((token) => `Authorization: Bearer ${token}\r\n`).join('')}\r\n`);
    const body = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    // Each alone is served.
    expect(body(await ask(officer.token))).toEqual({ data: { viewer: { role: 'MUNICIPALITY' } } });
    expect(body(await ask(operator.token))).toEqual({ data: { viewer: { role: 'OPERATOR' } } });
    expect((await download(officer.token)).split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    for (const tokens of [[officer.token, operator.token], [operator.token, officer.token], [officer.token, officer.token]]) {
      expect(codes(body(await ask(...tokens)))).toEqual(['UNAUTHENTICATED']);
      const refused = await download(...tokens);
      expect(refused.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
      expect(refused).toContain(JSON.stringify({ errors: [{ message: 'Authentication required', extensions: { code: 'UNAUTHENTICATED' } }] }));
    }
  });

  it('answers a path it does not serve with 404 in the API\'s error shape, naming where the API is', async () => {
    const answer = await fetch(t.url(Channel.LGWAN).replace(/graphql$/, 'graphq'));
    expect([answer.status, await answer.json()]).toEqual([404, { errors: [{ message: 'Not found: the API answers at /graphql', extensions: { code: 'NOT_FOUND' } }] }]);
  });

  it('reads the media type and the authorization scheme whatever their case, as HTTP defines them', async () => {
    const { officer } = await t.tenant();
    for (const [type, scheme] of [['Application/JSON', 'bearer'], ['APPLICATION/JSON; Charset=UTF-8', 'BEARER']]) {
      const response = await fetch(t.url(Channel.LGWAN), {
        method: 'POST',
        headers: { 'content-type': type, authorization: `${scheme} ${officer.token}` },
        body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      expect([response.status, await response.json()]).toEqual([200, { data: { viewer: { role: 'MUNICIPALITY' } } }]);
    }
    const download = await fetch(`${t.app.listeners.lgwanUrl}/exports/vaccination-records.csv`, { headers: { authorization: `bEaReR ${officer.token}` } });
    expect([download.status, download.headers.get('content-type')]).toEqual([200, 'text/csv; charset=utf-8']);
    await download.arrayBuffer();
  });

  it('reads a JSON body that starts with a byte order mark, as Windows tools write UTF-8, and only one', async () => {
    const { officer } = await t.tenant();
    const send = async (body: Buffer) => {
      const response = await fetch(t.url(Channel.LGWAN), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${officer.token}` }, body });
      return [response.status, await response.json()];
    };
    const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
    const query = Buffer.from(JSON.stringify({ query: 'query($q: String!) { viewer { role } r: residents(filter: { kanaPrefix: $q }) { nodes { id } } }', variables: { q: 'ヤマダ' } }));
    expect(await send(Buffer.concat([BOM, query]))).toEqual([200, { data: { viewer: { role: 'MUNICIPALITY' }, r: { nodes: [] } } }]);
    // A second is no JSON, nor is a mark alone.
    for (const body of [Buffer.concat([BOM, BOM, query]), BOM]) {
      expect(await send(body)).toEqual([400, { errors: [{ message: 'Body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] }]);
    }
  });

  it('refuses login brute force spread over aliases', async () => {
    const attempts = Array.from({ length: 20 }, (_, i) => `l${i}: login(loginId: "operator", password: "guess-${i}") { accessToken }`).join(' ');
    const result = await t.request(Channel.LGWAN, `mutation { ${attempts} }`);
    expect(codes(result)).toContain('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('production mode', () => {
  it('turns introspection off', async () => {
    const result = await prod.request(Channel.LGWAN, '{ __schema { types { name } } }');
    expect(codes(result)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(result.errors?.[0].message).toBe('Query refused: introspection is off; the schema is published as schema.graphql.');
    expect(JSON.stringify(result)).not.toContain('Resident');
  });

  it('does not suggest field names', async () => {
    const result = await prod.request(Channel.LGWAN, '{ resident(id: "x") { myNumbr } }');
    expect(JSON.stringify(result)).not.toContain('Did you mean');
    expect(JSON.stringify(result)).not.toContain('myNumber');
    const dev = await t.request(Channel.LGWAN, '{ resident(id: "x") { myNumbr } }');
    expect(JSON.stringify(dev)).toContain('Did you mean');
  });

  it('does not suggest enum values, in literals or variables', async () => {
    const literal = '{ statistics(scope: { kind: NATIONN }) { from } }';
    const variable = ['query($scope: StatisticsScopeInput!) { statistics(scope: $scope) { from } }', { scope: { kind: 'NATIONN' } }] as const;
    for (const result of [await prod.request(Channel.LGWAN, literal), await prod.request(Channel.LGWAN, ...variable)]) {
      expect(codes(result)).toHaveLength(1);
      expect(JSON.stringify(result)).not.toMatch(/Did you mean|"NATION"|Suggestion/);
    }
    // Developers still get them.
    for (const dev of [await t.request(Channel.LGWAN, literal), await t.request(Channel.LGWAN, ...variable)]) {
      expect(dev.errors?.[0].message).toMatch(/Did you mean the enum value "NATION"\?$/);
    }
  });

  it('masks faults: no stack, no SQL, no driver message', async () => {
    const { officer } = await prod.tenant();
    // A fault as the database driver reports one, thrown where a query runs.
    const residents = prod.app.services.residents;
    const list = residents.list;
    residents.list = async () => {
      throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { name: 'QueryFailedError', query: 'SELECT * FROM "resident"' });
    };
    try {
      const result = await officer.gql('{ residents { nodes { id } } }');
      const text = JSON.stringify(result);
      expect(codes(result)).toEqual(['INTERNAL_SERVER_ERROR']);
      expect(result.errors?.[0].message).toBe('Internal server error');
      for (const leak of ['stack', 'SELECT', '"resident"', 'QueryFailedError', '0x00', 'UTF8']) expect(text).not.toContain(leak);
    } finally {
      residents.list = list;
    }
  });

  it('logs a fault once, as a JSON line naming the request the client was answered, without the values PostgreSQL put in its error', async () => {
    const { code, officer } = await prod.tenant();
    const [first, second] = [await registerResident(officer), await registerResident(officer)];
    // A real unique violation: its detail names the key's value (the My Number's keyed hash), its parameters the statement's values.
    const violation = await prod.db.query(
      `UPDATE resident SET my_number_hmac = (SELECT my_number_hmac FROM resident WHERE municipality_code = $1 AND id = $2)
       WHERE municipality_code = $1 AND id = $3 AND $4::text IS NOT NULL`,
      [code, first.id, second.id, first.input.myNumber],
    ).then(() => null, (error: unknown) => error as { detail?: string; parameters?: unknown[] });
    const [{ hmac }] = await prod.db.query(`SELECT encode(my_number_hmac, 'hex') AS hmac FROM resident WHERE municipality_code = $1 AND id = $2`, [code, first.id]);
    expect(violation?.detail).toContain(hmac);
    expect(violation?.parameters).toContain(first.input.myNumber);
    const list = jest.spyOn(prod.app.services.residents, 'list').mockRejectedValue(violation);
    let answer: Awaited<ReturnType<typeof post>>;
    try {
      answer = await post(prod, { query: '{ residents { nodes { id } } }' }, officer.token);
    } finally {
      list.mockRestore();
    }
    expect([answer.status, codes(JSON.parse(answer.text))]).toEqual([500, ['INTERNAL_SERVER_ERROR']]);
    expect(answer.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const lines = prod.log.text.filter((line) => line.includes(answer.requestId!));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'error', msg: 'request failed', requestId: answer.requestId, municipalityCode: code, operation: 'query residents',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      err: { type: 'QueryFailedError', message: 'duplicate key value violates unique constraint "resident_my_number_hmac_key"', constraint: 'resident_my_number_hmac_key' },
    });
    for (const leak of [hmac, String(first.input.myNumber), 'already exists', '"detail"', '"parameters"']) expect(lines[0]).not.toContain(leak);
  });

  it('answers a fault with 500, to a login as to a signed-in query', async () => {
    const { officer } = await prod.tenant();
    const fault = () => Object.assign(new Error('could not extend file "base/16384/16397": No space left on device'), { name: 'QueryFailedError', code: '53100' });
    const login = jest.spyOn(prod.app.services.auth, 'login').mockRejectedValue(fault());
    const list = jest.spyOn(prod.app.services.residents, 'list').mockRejectedValue(fault());
    const answer = async (query: string, token?: string) => {
      const { status, text } = await post(prod, { query }, token);
      return [status, codes(JSON.parse(text))];
    };
    try {
      expect(await answer(`mutation { login(loginId: "${officer.loginId}", password: "x") { accessToken } }`)).toEqual([500, ['INTERNAL_SERVER_ERROR']]);
      expect(await answer('{ residents { nodes { id } } }', officer.token)).toEqual([500, ['INTERNAL_SERVER_ERROR']]);
    } finally {
      login.mockRestore();
      list.mockRestore();
    }
  });

  it('refuses text no column can hold, in variables or literals, naming where it is, before any resolver runs', async () => {
    const { officer } = await prod.tenant();
    const VOID = 'mutation($id: ID!, $reason: String!) { voidTicket(id: $id, reason: $reason) { userErrors { code } } }';
    for (const reason of ['lost\u0000', 'lost \ud800']) {
      const result = await officer.gql(VOID, { id: '00000000-0000-4000-8000-000000000000', reason });
      expect(result.errors).toEqual([{ message: 'variables.reason must not contain NUL characters or unpaired surrogates', extensions: { code: 'BAD_USER_INPUT', field: ['variables', 'reason'] } }]);
    }
    const literal = await officer.gql('{ residents(filter: { kanaPrefix: "ヤ\\u0000" }) { nodes { id } } }');
    expect(codes(literal)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(literal.errors?.[0].message).toBe('A string literal must not contain NUL characters or unpaired surrogates');
    // Variables nested past any input type are refused without being walked to the end.
    let deep: unknown = 'x';
    for (let i = 0; i < 1000; i++) deep = [deep];
    const nested = await officer.gql('query($v: [String]) { vaccines { code } }', { v: deep });
    expect(nested.errors?.[0]).toMatchObject({ message: expect.stringMatching(/nests deeper than 32 levels$/), extensions: { code: 'BAD_USER_INPUT' } });
    // A cursor is read back only as the keys it was made of.
    const cursor = Buffer.from(JSON.stringify(['131016', 'a b'])).toString('base64url');
    expect(codes(await officer.gql('query($after: String) { residents(after: $after) { nodes { id } } }', { after: cursor }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('tenant walls', () => {
  it('has no path from a resident to another municipality\'s residents', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    await registerResident(b.officer);
    const { id } = await registerResident(a.officer);
    // Resident.municipality leads only to public reference data, never back to rows.
    const result = await a.officer.gql('query($id: ID!) { resident(id: $id) { municipality { __typename code name } } }', { id });
    expect(Object.keys(result.data.resident.municipality)).toEqual(['__typename', 'code', 'name']);
  });

  it('answers another tenant\'s id and an unknown id identically, in every shape', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id } = await registerResident(b.officer);
    const unknown = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
    for (const query of [
      'query($id: ID!) { resident(id: $id) { id } }',
      'query($id: ID!) { r: resident(id: $id) { ...F } } fragment F on Resident { id familyName }',
      'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-01-01") { resident { id } userErrors { field code message } } }',
      'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-01-01") { resident { id } userErrors { field code message } } }',
    ]) {
      const theirs = JSON.stringify(await a.officer.gql(query, { id }));
      const nobody = JSON.stringify(await a.officer.gql(query, { id: unknown }));
      expect(theirs).toBe(nobody);
    }
  });

  it('keeps per-request caches apart: concurrent requests of two tenants never see each other\'s rows', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const ra = await registerResident(a.officer);
    const rb = await registerResident(b.officer);
    const Q = 'query($x: ID!, $y: ID!) { x: resident(id: $x) { id } y: resident(id: $y) { id } }';
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).officer.gql(Q, { x: ra.id, y: rb.id })),
    );
    results.forEach((r, i) => {
      expect(r.data).toEqual(i % 2 ? { x: { id: ra.id }, y: null } : { x: null, y: { id: rb.id } });
    });
  });

  it('refuses a token replayed on the other channel or after the account is disabled', async () => {
    const { officer } = await t.tenant();
    expect(codes(await t.request(Channel.INTERNET, '{ viewer { role } }', {}, officer.token))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await officer.gql('{ viewer { role } }'))).toEqual([]);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    await operator.gql('mutation($id: ID!) { disableAccount(id: $id) { userErrors { code } } }', { id: officer.accountId });
    expect(codes(await officer.gql('{ residents { nodes { id } } }'))).toEqual(['UNAUTHENTICATED']);
  });
});
