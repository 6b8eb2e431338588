import { QueryRunner } from 'typeorm';
import { importFile, registryCsv, registryRow, residentRows } from '../helpers/registry-csv';
import { Channel, Role } from '../../src/schema/enums';
import { blockedBy, registerResident, residentInput, Session, TestApp } from '../helpers/test-app';
import { residentWithTicket } from '../helpers/vaccination';

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
    await t.db.query(
      `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
         family_name_kana, given_name_kana, birth_date, sex)
       SELECT $1::text, gen_random_uuid(), 'B' || i, '\\x00'::bytea, decode(md5($1::text || i) || md5($1::text || 'x' || i), 'hex'), 1, '山田', '太郎', 'ヤマダ', 'タロウ',
              date '1940-01-01' + (i % 25000), 'MALE'
       FROM generate_series(1, $2::int) AS i`,
      [code, CITY],
    );
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
