import { Pool } from 'pg';
import { baseUrl, finishedJob, importFile, registryCsv, registryRow, residentRows, upload } from '../helpers/registry-csv';
import { blockedBy, registerResident, REGISTER, residentInput, Session, TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

/**
 * The database goes away for a moment under a running server (a failover, a restart for a minor
 * upgrade, a network reset, an administrator's pg_terminate_backend): each connection it cut costs
 * the work on it an answer that says so, and the server serves on new connections after, without
 * a restart of its own. A connection is cut here while the test's own transaction holds up its
 * work at a known point, so that only the test's work is cut (other test files share the database).
 */

const UNAVAILABLE = {
  message: 'the connection to the database was lost; nothing of this request was written: send it again in a while',
  extensions: { code: 'DATABASE_UNAVAILABLE' },
};

const MOVE = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-06-01") { resident { status } userErrors { field code } } }';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

/** Sends a GraphQL request as `session` and answers its HTTP status and body. */
async function post(session: Session, query: string, variables: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(t.url(session.channel), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': t.address, authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * Holds `sql`'s rows in a transaction of the test's own, starts `work`, and once it waits on them
 * terminates the connection it waits on, as an administrator or a failover would; answers what
 * `work` answered. Only the test's work is cut, at a known point.
 */
async function cutUnder<T>(sql: string, params: unknown[], work: () => Promise<T>): Promise<T> {
  const holder = t.db.createQueryRunner();
  await holder.connect();
  await holder.startTransaction();
  try {
    await holder.query(`${sql} FOR UPDATE`, params);
    const working = work();
    await blockedBy(t.db, holder);
    const [{ pid }] = await holder.query('SELECT pg_backend_pid() AS pid');
    const cut = await t.db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
    expect(cut).toHaveLength(1);
    return await working;
  } finally {
    if (holder.isTransactionActive) await holder.rollbackTransaction();
    await holder.release();
  }
}

describe('a request whose database connection is cut', () => {
  it('is answered DATABASE_UNAVAILABLE (503), writing nothing, and served again after', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer);
    expect(await cutUnder('SELECT 1 FROM resident WHERE id = $1', [id], () => post(officer, MOVE, { id })))
      .toEqual({ status: 503, body: { data: null, errors: [{ ...UNAVAILABLE, path: ['markResidentMovedOut'] }] } });
    expect(await t.db.query('SELECT status FROM resident WHERE id = $1', [id])).toEqual([{ status: 'ACTIVE' }]);
    expect(await post(officer, MOVE, { id })).toEqual({ status: 200, body: { data: { markResidentMovedOut: { resident: { status: 'MOVED_OUT' }, userErrors: [] } } } });
    // One line, without the driver's stack.
    expect(t.log.entries.filter((e) => e.operation === 'mutation markResidentMovedOut' && e.level !== 'info').map((e) => [e.level, e.msg, e.cause, e.err])).toEqual([
      ['warn', 'request stopped: the connection to the database was lost', 'terminating connection due to administrator command', undefined],
    ]);
  });

  it('cut from a tablet\'s registration records nothing, and the site\'s next doses are recorded on new connections', async () => {
    const { code, officer } = await t.tenant();
    const site = await tablet(t, code);
    // The connections have prepared the registration's statements.
    for (let i = 0; i < 3; i++) await post(site, REGISTER_DOSE, { input: doseInput(code, (await residentWithTicket(officer)).ticketNumber) });
    const { ticketId, ticketNumber } = await residentWithTicket(officer);
    const input = doseInput(code, ticketNumber);
    expect(await cutUnder('SELECT 1 FROM ticket WHERE id = $1', [ticketId], () => post(site, REGISTER_DOSE, { input })))
      .toEqual({ status: 503, body: { data: null, errors: [{ ...UNAVAILABLE, path: ['registerDose'] }] } });
    expect(await t.db.query('SELECT count(*)::int AS n FROM vaccination_record WHERE ticket_id = $1', [ticketId])).toEqual([{ n: 0 }]);
    // Sent again, as the answer asks.
    const again = await post(site, REGISTER_DOSE, { input });
    expect([again.status, again.body.data.registerDose.receipt.status]).toEqual([200, 'RECORDED']);
    for (let i = 0; i < 5; i++) {
      const next = await post(site, REGISTER_DOSE, { input: doseInput(code, (await residentWithTicket(officer)).ticketNumber) });
      expect([next.status, next.body.data.registerDose.receipt.status]).toEqual([200, 'RECORDED']);
    }
  });

  it('at its commit is told it may or may not have been written, not that the server failed', async () => {
    const { code, officer } = await t.tenant();
    // The registration waits at commit for the municipality's operation-log head.
    const input = residentInput();
    expect(await cutUnder('SELECT 1 FROM audit_chain WHERE chain = $1', [code], () => post(officer, REGISTER, { input }))).toEqual({
      status: 503,
      body: { errors: [{ message: 'the connection to the database was lost as this request was committed: it may or may not have been written; read back what it changed before sending it again', extensions: { code: 'DATABASE_UNAVAILABLE' } }] },
    });
    // Here it was not: the commit waited for the head, and went with the connection.
    expect(await residentRows(t, code)).toEqual([]);
    const again = await post(officer, REGISTER, { input });
    expect([again.status, again.body.data.registerResident.userErrors]).toEqual([200, []]);
  });

  it('before it reached a resolver (its token checked), or for a download, is answered DATABASE_UNAVAILABLE, not a fault', async () => {
    const { officer } = await t.tenant();
    const lost = () => new Error('Connection terminated unexpectedly');
    const actorFor = jest.spyOn(t.app.services.auth, 'actorFor').mockRejectedValueOnce(lost());
    try {
      expect(await post(officer, '{ viewer { role } }')).toEqual({ status: 503, body: { errors: [UNAVAILABLE] } });
    } finally {
      actorFor.mockRestore();
    }
    const stream = jest.spyOn(t.app.services.exports, 'stream').mockRejectedValueOnce(lost());
    try {
      const response = await fetch(`${baseUrl(t, officer.channel)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` } });
      expect([response.status, await response.json()]).toEqual([503, { errors: [UNAVAILABLE] }]);
    } finally {
      stream.mockRestore();
    }
    expect(await post(officer, '{ viewer { role } }')).toEqual({ status: 200, body: { data: { viewer: { role: 'MUNICIPALITY' } } } });
  });
});

describe('a registry import whose database connection is cut while it merges', () => {
  it('is FAILED saying so, writes nothing, and the file is imported when sent again', async () => {
    const { code, officer } = await t.tenant();
    const row = registryRow();
    await importFile(t, officer, registryCsv([row]));
    const before = await residentRows(t, code);
    const changed = registryCsv([{ ...row, family: '変更' }, registryRow()]);
    const job = await cutUnder('SELECT 1 FROM resident WHERE id = $1', [before[0].id], async () => finishedJob(officer, (await upload(t, officer, changed)).body.jobId));
    expect(job).toMatchObject({
      status: 'FAILED', residentsInserted: 0, residentsUpdated: 0, ticketsInserted: 0,
      failureReason: 'the connection to the database was lost while the import ran (a restart or a failover of the database); nothing was written, run the import again',
    });
    expect(await residentRows(t, code)).toEqual(before);
    expect(await importFile(t, officer, changed)).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 1, residentsUpdated: 1 });
  }, 30_000);
});

describe('intrusion detection\'s connections, cut while idle', () => {
  it('are logged as one warning each, not as a fault, and replaced when the next login is counted', async () => {
    const { officer } = await t.tenant();
    // The officer's login was counted: the detector's pool holds an idle connection.
    const pool = (t.app.services.detector as unknown as { pool: Pool & { _clients: { processID: number }[] } }).pool;
    const pids = pool._clients.map((c) => c.processID);
    expect(pids.length).toBeGreaterThan(0);
    await t.db.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    const lines = () => t.log.entries.filter((e) => /^detection connection/.test(e.msg));
    while (lines().length < pids.length) await new Promise((r) => setTimeout(r, 10));
    expect(lines().map((e) => [e.level, e.msg, e.cause, e.err])).toEqual(pids.map(() =>
      ['warn', 'detection connection closed by the database; another is opened when needed', 'terminating connection due to administrator command', undefined]));
    const again = await t.login(officer.channel, officer.loginId);
    expect(again.data?.login?.viewer).toEqual({ role: 'MUNICIPALITY' });
  });
});
