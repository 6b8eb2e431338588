import { AddressInfo, connect, createServer, Socket } from 'node:net';
import { Transform } from 'node:stream';
import { Pool, PoolClient } from 'pg';
import { QueryRunner } from 'typeorm';
import { baseUrl, finishedJob, importFile, registryCsv, registryRow, residentRows, upload } from '../helpers/registry-csv';
import { createDataSource } from '../../src/db/data-source';
import { RequestSession } from '../../src/db/tenant-session';
import { Channel, Role } from '../../src/schema/enums';
import { repeatEvery } from '../../src/services/background';
import { blockedBy, insertResidents, registerResident, residentInput, Session, TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

/**
 * A request the database does not serve in time (a row a stuck transaction holds, every pooled
 * connection taken) is answered, not left waiting for ever. Without the bounds these requests
 * would never answer: each is sent with a deadline of its own, so the test fails instead of hanging.
 */

const TIMEOUT = {
  status: 503,
  body: { errors: [{ message: 'the database did not answer in time; nothing of this request was written: send it again in a while', extensions: { code: 'DATABASE_TIMEOUT' } }] },
};

const MOVE = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-06-01") { resident { status } userErrors { field code } } }';

/** Sends a GraphQL request as `session` and answers its HTTP status and body; gives up after `patience` ms. */
async function post(t: TestApp, session: Session, query: string, variables: Record<string, unknown> = {}, patience = 10_000): Promise<{ status: number; body: any }> {
  const response = await fetch(t.url(session.channel), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': t.address, authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(patience),
  });
  return { status: response.status, body: await response.json() };
}

/** A transaction of the test's own holding the rows of these residents. */
async function holdResidents(t: TestApp, ids: string[]): Promise<QueryRunner> {
  const holder = t.db.createQueryRunner();
  await holder.connect();
  await holder.startTransaction();
  await holder.query('SELECT 1 FROM resident WHERE id = ANY($1::uuid[]) FOR UPDATE', [ids]);
  return holder;
}

async function release(holder: QueryRunner): Promise<void> {
  if (holder.isTransactionActive) await holder.commitTransaction();
  await holder.release();
}

describe('a request stopped at a row another transaction holds', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start({ statementTimeoutSeconds: 1 });
  });
  afterAll(() => t.stop());

  it('is answered DATABASE_TIMEOUT within the bound, writing nothing, and served once the row is free', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const newcomer = residentInput();
    // The first mutation writes; the second then waits on the held resident.
    const both = `mutation($input: RegisterResidentInput!, $id: ID!) {
      registerResident(input: $input) { resident { addresseeNumber } userErrors { code } }
      markResidentMovedOut(id: $id, movedOutOn: "2024-06-01") { resident { status } userErrors { field code } }
    }`;
    const holder = await holdResidents(t, [id]);
    try {
      const started = Date.now();
      const answer = await post(t, officer, both, { input: newcomer, id });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(answer).toEqual({
        status: TIMEOUT.status,
        body: { data: null, errors: [{ ...TIMEOUT.body.errors[0], path: ['markResidentMovedOut'] }] },
      });
      // The holder's transaction still stands, and the request's first mutation was undone with the rest.
      expect(await holder.query('SELECT status FROM resident WHERE id = $1', [id])).toEqual([{ status: 'ACTIVE' }]);
      expect((await residentRows(t, code)).map((r) => r.id)).toEqual([id]);
    } finally {
      await release(holder);
    }
    expect(await post(t, officer, both, { input: newcomer, id })).toEqual({
      status: 200,
      body: { data: {
        registerResident: { resident: { addresseeNumber: newcomer.addresseeNumber }, userErrors: [] },
        markResidentMovedOut: { resident: { status: 'MOVED_OUT' }, userErrors: [] },
      } },
    });
  }, 30_000);

  it('answers a field left unrun by the timed-out one before it as NOT_RUN, and the request 503, not as a fault', async () => {
    const { officer } = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(officer);
    const holder = t.db.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('LOCK TABLE ticket IN ACCESS EXCLUSIVE MODE');
    try {
      const answer = await post(t, officer, 'query($n: String!, $id: ID!) { a: ticketByNumber(ticketNumber: $n) { id } b: resident(id: $id) { id } }', { n: ticketNumber, id: residentId });
      expect(answer.status).toBe(503);
      expect(answer.body.errors.map((e: { path: string[]; extensions: { code: string } }) => [e.path, e.extensions.code])).toEqual([
        [['a'], 'DATABASE_TIMEOUT'], [['b'], 'NOT_RUN'],
      ]);
    } finally {
      await release(holder);
    }
  }, 30_000);

  it('undoes an account created by a mutation document that then timed out', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const target = await t.createAccount(Role.NATIONAL);
    const holder = t.db.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('SELECT 1 FROM account WHERE id = $1 FOR UPDATE', [target.id]);
    const loginId = `undone-${Date.now()}`;
    try {
      const answer = await post(t, operator, `mutation($input: CreateAccountInput!, $id: ID!) {
        createAccount(input: $input) { account { id } userErrors { code } }
        disableAccount(id: $id) { account { id } userErrors { code } }
      }`, { input: { loginId, password: 'a-long-enough-password', role: 'NATIONAL', displayName: 'x' }, id: target.id });
      expect(answer.status).toBe(503);
    } finally {
      await release(holder);
    }
    expect(await t.db.query('SELECT id FROM account WHERE login_id = $1', [loginId])).toEqual([]);
  }, 30_000);

  it('lets a whole city\'s ticket issuance run longer than the bound, but not wait longer for a row', async () => {
    const { code, officer } = await t.tenant();
    const CITY = 100_000;
    await insertResidents(t.db, code, CITY);
    const issueToAll = `mutation { issueTickets(input: { series: "1-2", allActiveResidents: true, issuedOn: "2024-04-01" }) { issuedCount userErrors { code } } }`;
    const [{ id }] = await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 LIMIT 1', [code]);
    const holder = await holdResidents(t, [id]);
    try {
      const started = Date.now();
      expect(await post(t, officer, issueToAll)).toEqual({ ...TIMEOUT, body: { data: null, errors: [{ ...TIMEOUT.body.errors[0], path: ['issueTickets'] }] } });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await release(holder);
    }
    expect(await t.db.query('SELECT count(*)::int AS n FROM ticket WHERE municipality_code = $1', [code])).toEqual([{ n: 0 }]);
    const started = Date.now();
    expect(await post(t, officer, issueToAll, {}, 60_000)).toEqual({ status: 200, body: { data: { issueTickets: { issuedCount: CITY, userErrors: [] } } } });
    // The issuance outlasted the bound a request's statements get.
    expect(Date.now() - started).toBeGreaterThan(1_000);
  }, 90_000);

  it('gives the rest of a request its bound and its plans back once work long by nature in it (a city\'s issuance) is done', async () => {
    // Set for the transaction, the issuance's settings had stayed: ten tickets voided after it in a
    // city of 300,000 each read every resident, 1.2 s in all instead of 40 ms, with no bound.
    const session = new RequestSession(t.db, [], 1_000);
    const tx = await session.manager();
    const settings = async () => (await tx.query(
      `SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock, current_setting('enable_nestloop') AS nestloop`,
    ))[0];
    try {
      expect(await settings()).toEqual({ statement: '1s', lock: '0', nestloop: 'on' });
      const during = await tx.transaction((savepoint) => session.runLong(savepoint, settings, { enable_nestloop: 'off' }));
      expect(during).toEqual({ statement: '0', lock: '1s', nestloop: 'off' });
      expect(await settings()).toEqual({ statement: '1s', lock: '0', nestloop: 'on' });
      // A work that fails is rolled back to its savepoint, its settings with it.
      await expect(tx.transaction((savepoint) => session.runLong(savepoint, () => savepoint.query('SELECT 1/0'), { enable_nestloop: 'off' }))).rejects.toThrow(/division by zero/);
      expect(await settings()).toEqual({ statement: '1s', lock: '0', nestloop: 'on' });
    } finally {
      await session.finish(false);
    }
  });

  it('does not cut a registry import merging into a row held longer than a request may wait', async () => {
    const { code, officer } = await t.tenant();
    const row = registryRow();
    await importFile(t, officer, registryCsv([row]));
    const [resident] = await residentRows(t, code);
    const holder = await holdResidents(t, [resident.id]);
    try {
      const importing = importFile(t, officer, registryCsv([{ ...row, family: '変更' }]));
      await blockedBy(t.db, holder);
      // Past the requests' bound of 1 s.
      await new Promise((r) => setTimeout(r, 2_000));
      await release(holder);
      expect(await importing).toMatchObject({ status: 'SUCCEEDED', residentsUpdated: 1, failureReason: null });
    } finally {
      await release(holder);
    }
    expect((await residentRows(t, code)).map((r) => r.family_name)).toEqual(['変更']);
  }, 30_000);
});

describe('a request that finds every pooled connection taken', () => {
  it('is answered DATABASE_TIMEOUT after the connection wait, and served again once connections are free', async () => {
    // TestApp's pool holds 10 connections.
    const t = await TestApp.start({ connectionWaitSeconds: 1 });
    try {
      const { officer } = await t.tenant();
      const ids = await Promise.all(Array.from({ length: 10 }, async () => (await registerResident(officer)).id));
      const holder = await holdResidents(t, ids);
      let waiting: Promise<unknown>[] = [];
      try {
        waiting = ids.map((id) => post(t, officer, MOVE, { id }));
        await blockedBy(t.db, holder, '%', ids.length);
        const started = Date.now();
        expect(await post(t, officer, '{ viewer { role } }')).toEqual(TIMEOUT);
        expect(Date.now() - started).toBeLessThan(5_000);
        // So is a download, which takes its connection outside GraphQL.
        const download = await fetch(t.url(officer.channel).replace('/graphql', '/exports/vaccination-records.csv'), {
          headers: { 'x-forwarded-for': t.address, authorization: `Bearer ${officer.token}` },
          signal: AbortSignal.timeout(10_000),
        });
        expect({ status: download.status, body: await download.json() }).toEqual(TIMEOUT);
      } finally {
        await release(holder);
      }
      for (const answer of await Promise.all(waiting)) {
        expect(answer).toEqual({ status: 200, body: { data: { markResidentMovedOut: { resident: { status: 'MOVED_OUT' }, userErrors: [] } } } });
      }
      expect(await post(t, officer, '{ viewer { role } }')).toEqual({ status: 200, body: { data: { viewer: { role: 'MUNICIPALITY' } } } });
    } finally {
      await t.stop();
    }
  }, 30_000);
});

describe('work no client waits on, when every pooled connection is taken for longer than the connection wait', () => {
  // TestApp's pool holds 10 connections.
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start({ connectionWaitSeconds: 1 });
  });
  afterAll(() => t.stop());

  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const pool = () => (t.app.services.db.driver as unknown as { master: Pool }).master;

  /** `count` of the app's pooled connections, taken as a request takes them (within the wait). */
  const take = (count: number) => Promise.all(Array.from({ length: count }, () => pool().connect()));

  /** Until the app's pool has `count` requests for a connection waiting. */
  async function poolWaiting(count: number): Promise<void> {
    for (let i = 0; i < 400 && pool().waitingCount < count; i++) await pause(10);
    expect(pool().waitingCount).toBe(count);
  }

  it('ends an export whose rows have all been sent, with its log line, once a connection is free', async () => {
    const { code, officer } = await t.tenant();
    const { ticketNumber } = await residentWithTicket(officer);
    const site = await tablet(t, code);
    expect((await site.gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber) })).data.registerDose.userErrors).toEqual([]);
    let atEnd!: () => void;
    let goOn!: () => void;
    const rowsSent = new Promise<void>((resolve) => (atEnd = resolve));
    const gate = new Promise<void>((resolve) => (goOn = resolve));
    // Holds the export at its end, every row sent, while its own connection is still open.
    t.app.services.exports.faultStage = () => new Transform({
      transform: (chunk, _enc, done) => done(null, chunk),
      flush: (done) => {
        atEnd();
        void gate.then(() => done());
      },
    });
    let taken: PoolClient[] = [];
    try {
      const download = fetch(`${baseUrl(t, officer.channel)}/exports/vaccination-records.csv`, {
        headers: { 'x-forwarded-for': t.address, authorization: `Bearer ${officer.token}` },
        signal: AbortSignal.timeout(20_000),
      });
      await rowsSent;
      // Every connection but the export's taken; the tenth asked for gets the one the export frees.
      taken = await take(9);
      const tenth = pool().connect();
      goOn();
      taken.push(await tenth);
      // Past the wait a request gets: the export's log line has waited longer.
      await pause(2_000);
      for (const client of taken.splice(0)) client.release();
      const response = await download;
      expect(response.status).toBe(200);
      const lines = (await response.text()).replace(/^\ufeff/, '').trimEnd().split('\n');
      expect(lines.map((line) => line.split(',')[4])).toEqual(['接種券番号', ticketNumber]);
    } finally {
      t.app.services.exports.faultStage = null;
      goOn();
      for (const client of taken) client.release();
    }
    expect(await t.db.query(`SELECT target_ids[6] AS rows, outcome FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccinationRecord.export'`, [code]))
      .toEqual([{ rows: 'rows:1', outcome: 'SUCCESS' }]);
  }, 60_000);

  it('writes what an undone request keeps on its own connection, however long the pool would make it wait for another', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const holder = await holdResidents(t, [id]);
    let taken: PoolClient[] = [];
    let tenth: Promise<PoolClient> | undefined;
    try {
      // The first mutation waits on the held resident; the second is refused, which undoes the document.
      const answer = post(t, officer, `mutation($id: ID!) {
        a: markResidentMovedOut(id: $id, movedOutOn: "2024-06-01") { userErrors { code } }
        b: disableAccount(id: "00000000-0000-4000-8000-000000000001") { userErrors { code } }
      }`, { id }, 30_000);
      await blockedBy(t.db, holder, '%', 1);
      // Every other connection taken, and one more asked for: the request's own goes to it when handed back.
      taken = await take(9);
      tenth = pool().connect();
      await poolWaiting(1);
      await release(holder);
      const { status, body } = await answer;
      expect({ status, data: body.data, codes: body.errors.map((e: { extensions: { code: string } }) => e.extensions.code) })
        .toEqual({ status: 200, data: null, codes: ['FORBIDDEN'] });
    } finally {
      await release(holder);
      if (tenth) taken.push(await tenth);
      for (const client of taken) client.release();
    }
    expect(await t.db.query(`SELECT target_ids, outcome FROM audit_event WHERE actor_id = $1 AND operation = 'mutation.undone'`, [officer.accountId]))
      .toEqual([{ target_ids: ['markResidentMovedOut', 'disableAccount'], outcome: 'FAILURE' }]);
    expect((await residentRows(t, code)).map((r) => r.status)).toEqual(['ACTIVE']);
  }, 60_000);

  it('answers a request whose refusals could not be counted in time as it would have been answered, and logs that they were not', async () => {
    const { officer } = await t.tenant();
    const key = `denied:${officer.accountId}`;
    await t.db.query(`INSERT INTO detection_window (key, events) VALUES ($1, '{}')`, [key]);
    const holder = t.db.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('SELECT 1 FROM detection_window WHERE key = $1 FOR UPDATE', [key]);
    const refused = '{ securityAlerts(first: 1) { kind } }';
    try {
      // The detector's four connections each wait on the test's row; the fifth count waits for one of them past the bound.
      const answers = Array.from({ length: 5 }, () => post(t, officer, refused, {}, 30_000));
      await blockedBy(t.db, holder, '%detection_window%', 4);
      await pause(2_000);
      await release(holder);
      for (const answer of await Promise.all(answers)) {
        expect(answer.status).toBe(200);
        expect(answer.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(['FORBIDDEN']);
      }
    } finally {
      await release(holder);
    }
    expect(await t.db.query('SELECT cardinality(events) AS n FROM detection_window WHERE key = $1', [key])).toEqual([{ n: 4 }]);
    expect(t.log.at('error').filter((e) => e.municipalityCode === officer.municipalityCode).map((e) => [e.msg, e.err.message]))
      .toEqual([['refusals not counted', 'timeout exceeded when trying to connect']]);
  }, 60_000);

  it('does not fail an import whose job waits for a connection longer than a request may', async () => {
    const { code, officer } = await t.tenant();
    // Nine taken: the upload is served by the tenth, which the job's transaction then keeps while the job asks for another.
    const taken = await take(9);
    let uploading: ReturnType<typeof upload> | undefined;
    try {
      uploading = upload(t, officer, registryCsv([registryRow()]));
      await poolWaiting(1);
      await pause(2_000);
    } finally {
      for (const client of taken) client.release();
    }
    const { status, body } = await uploading!;
    expect(status).toBe(202);
    expect(await finishedJob(officer, body.jobId)).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 1, failureReason: null });
    expect(await residentRows(t, code)).toHaveLength(1);
  }, 60_000);

  it('lets a background pass wait for a connection instead of failing', async () => {
    const logged = t.log.text.length;
    const taken = await take(10);
    let passes = 0;
    // One pass, stopped by itself once done: a second would start a second later.
    const stop: () => void = repeatEvery(1, 'test pass', async () => {
      await t.app.services.db.query('SELECT 1');
      passes++;
      stop();
    }, t.app.services.log);
    try {
      await pause(3_000);
      expect(passes).toBe(0);
    } finally {
      for (const client of taken) client.release();
    }
    for (let i = 0; i < 100 && passes === 0; i++) await pause(20);
    stop();
    expect(passes).toBe(1);
    expect(t.log.text.slice(logged)).toEqual([]);
  }, 30_000);
});

describe('a database that accepts connections and never answers (hung, or behind a network gone silent)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start();
  });
  afterAll(() => t.stop());

  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('holds at most one connection for /readyz however many probes come, and answers each 503 within 3 s', async () => {
    // The test database behind a relay that goes quiet: once `quiet`, it takes every connection, old
    // or new, reads what it is sent and never writes a byte.
    let quiet = false;
    let open = 0;
    let mostOpen = 0;
    const sockets = new Set<Socket>();
    const relayed: [Socket, Socket][] = [];
    const database = new URL(process.env.DATABASE_URL!);
    const relay = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      if (!quiet) {
        const upstream = connect(Number(database.port || 5432), database.hostname);
        upstream.on('error', () => socket.destroy());
        socket.pipe(upstream).pipe(socket);
        relayed.push([socket, upstream]);
        return;
      }
      mostOpen = Math.max(mostOpen, ++open);
      socket.on('close', () => open--);
      socket.resume();
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const url = new URL(database);
    url.host = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
    const db = createDataSource(url.toString(), { asApp: true, connectionWaitMs: 10_000 });
    await db.initialize();
    const replaced = jest.replaceProperty(t.app.services, 'db', db);
    const base = t.url(Channel.INTERNET).replace('/graphql', '');
    const probe = async () => {
      const started = Date.now();
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
      return { status: response.status, body: await response.json(), within: Date.now() - started < 3_500 };
    };
    try {
      expect(await probe()).toEqual({ status: 200, body: { status: 'ready' }, within: true });
      quiet = true;
      for (const [socket, upstream] of relayed) {
        socket.unpipe(upstream);
        upstream.unpipe(socket);
        socket.resume();
      }
      // A load balancer's probes: a burst, more while the first check waits, and more after it gave up.
      const probes = Array.from({ length: 20 }, probe);
      await pause(1_500);
      probes.push(...Array.from({ length: 20 }, probe));
      await pause(2_500);
      probes.push(...Array.from({ length: 20 }, probe));
      for (const answer of await Promise.all(probes)) {
        expect(answer).toEqual({ status: 503, body: { status: 'database not answering' }, within: true });
      }
      expect(mostOpen).toBe(1);
      // None is kept once answered, for TCP to give up on.
      for (let i = 0; i < 100 && open > 0; i++) await pause(20);
      expect(open).toBe(0);
    } finally {
      replaced.restore();
      for (const socket of sockets) socket.destroy();
      for (const [, upstream] of relayed) upstream.destroy();
      await db.destroy().catch(() => undefined);
      await new Promise((resolve) => relay.close(resolve));
    }
  }, 30_000);

  it('sets TCP keep-alive on the app\'s connections and the detector\'s, so that an idle one to a vanished server is found dead', async () => {
    await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: (await t.tenant()).code });
    const detector = (t.app.services.detector as unknown as { pool: Pool | null }).pool;
    const app = (t.app.services.db.driver as unknown as { master: Pool }).master;
    for (const pool of [app, detector]) {
      expect(pool?.options).toMatchObject({ keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    }
  });
});
