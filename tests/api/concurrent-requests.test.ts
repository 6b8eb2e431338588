import { QueryRunner } from 'typeorm';
import { Channel, Role } from '../../src/schema/enums';
import { blockedBy, codes, GraphQLResponse, registerResident, Session, TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const VOID = 'mutation($id: ID!) { voidTicket(id: $id, reason: "lost") { ticket { voidedOn } userErrors { field code } } }';
const MOVE = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-06-01") { resident { status } userErrors { field code } } }';

/**
 * Waits until another transaction holds the row `sql` selects: the row is asked for with NOWAIT.
 * Other test files share the database, so waiting statements seen in pg_stat_activity may be theirs.
 */
async function heldByAnother(sql: string, params: unknown[]): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const probe = t.db.createQueryRunner();
    await probe.connect();
    await probe.startTransaction();
    try {
      await probe.query(`${sql} FOR UPDATE NOWAIT`, params);
    } catch (error) {
      if ((error as { driverError?: { code?: string } }).driverError?.code === '55P03') return;
      throw error;
    } finally {
      await probe.rollbackTransaction();
      await probe.release();
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nobody holds the row of ${sql}`);
}

const RESIDENT_ROW = 'SELECT 1 FROM resident WHERE id = $1';

/**
 * Rows locked by a transaction of the test's own, to stop a request at a known row. Rows of the
 * test's own tenant only: a table lock would also stop other test files sharing the database.
 */
async function holdRows(sql: string, ids: string[]): Promise<QueryRunner> {
  const runner = t.db.createQueryRunner();
  await runner.connect();
  await runner.startTransaction();
  await runner.query(`${sql} FOR UPDATE`, [ids]);
  return runner;
}

async function release(runner: QueryRunner): Promise<void> {
  await runner.commitTransaction();
  await runner.release();
}

/**
 * Two requests that cross: each locks its first resident (`x`, `y`), then is stopped at a resident
 * of its own held by the test (`stops`), then needs the other's first. PostgreSQL stops one of them
 * (deadlock); both answers come back.
 */
async function crossing(first: () => Promise<GraphQLResponse>, x: string, second: () => Promise<GraphQLResponse>, y: string, stops: string[]): Promise<GraphQLResponse[]> {
  const gate = await holdRows(RESIDENTS, stops);
  const one = first();
  await heldByAnother(RESIDENT_ROW, [x]);
  const two = second();
  await heldByAnother(RESIDENT_ROW, [y]);
  await release(gate);
  return Promise.all([one, two]);
}

const RESIDENTS = 'SELECT 1 FROM resident WHERE id = ANY($1::uuid[])';
const TICKETS = 'SELECT 1 FROM ticket WHERE id = ANY($1::uuid[])';
const RECORD_THREE = `mutation($a: RecordDoseInput!, $stop: RecordDoseInput!, $b: RecordDoseInput!) {
  a: recordDose(input: $a) { record { id } userErrors { code } }
  stop: recordDose(input: $stop) { record { id } userErrors { code } }
  b: recordDose(input: $b) { record { id } userErrors { code } }
}`;
const dose = (residentId: string, vaccinatedOn: string) => ({ residentId, doseNumber: 1, vaccinatedOn, vaccineCode: 'PFIZER-COMIRNATY', lotNumber: 'FA1234' });
const residents = async (officer: Session, n: number) => Promise.all(Array.from({ length: n }, async () => (await registerResident(officer)).id));

describe('requests that touch the same rows at once', () => {
  it('a ticket voided while a site registers a dose on it: one waits for the other, neither fails', async () => {
    const home = await t.tenant();
    const { residentId, ticketId, ticketNumber } = await residentWithTicket(home.officer);
    const site = await tablet(t, home.code);
    // The void locks the holder, then is stopped at the ticket; the site then needs the holder.
    const gate = await holdRows(TICKETS, [ticketId]);
    const voiding = home.officer.gql(VOID, { id: ticketId });
    await heldByAnother(RESIDENT_ROW, [residentId]);
    const registering = site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
    await blockedBy(t.db, gate, '%', 2);
    await release(gate);
    const [voided, registered] = await Promise.all([voiding, registering]);
    expect(codes(voided)).toEqual([]);
    expect(voided.data.voidTicket.userErrors).toEqual([]);
    // The void went first: the site finds the ticket void.
    expect(codes(registered)).toEqual([]);
    expect(registered.data.registerDose.userErrors).toEqual([expect.objectContaining({ code: 'TICKET_VOID' })]);
  });

  it('a ticket voided while its holder is marked moved out: one waits for the other, neither fails', async () => {
    const home = await t.tenant();
    const { residentId, ticketId } = await residentWithTicket(home.officer);
    const other = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: home.code });
    // The move out locks the resident, then is stopped at the ticket it voids.
    const gate = await holdRows(TICKETS, [ticketId]);
    const moving = home.officer.gql(MOVE, { id: residentId });
    await heldByAnother(RESIDENT_ROW, [residentId]);
    const voiding = other.gql(VOID, { id: ticketId });
    await blockedBy(t.db, gate, '%', 2);
    await release(gate);
    const [moved, voided] = await Promise.all([moving, voiding]);
    expect([codes(moved), codes(voided)]).toEqual([[], []]);
    expect(moved.data.markResidentMovedOut).toEqual({ resident: { status: 'MOVED_OUT' }, userErrors: [] });
    // The move out voided the ticket first.
    expect(voided.data.voidTicket.userErrors).toEqual([expect.objectContaining({ code: 'TICKET_VOID' })]);
  });

  it('two requests that cross each other: the one PostgreSQL stops writes nothing and is asked to be sent again', async () => {
    const home = await t.tenant();
    const other = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: home.code });
    const [x, y, stopOne, stopTwo] = await residents(home.officer, 4);
    const answers = await crossing(() => home.officer.gql(RECORD_THREE, { a: dose(x, '2024-01-01'), stop: dose(stopOne, '2024-01-01'), b: dose(y, '2024-01-01') }), x,
      () => other.gql(RECORD_THREE, { a: dose(y, '2024-01-02'), stop: dose(stopTwo, '2024-01-02'), b: dose(x, '2024-01-02') }), y, [stopOne, stopTwo]);
    const stopped = answers.filter((a) => a.errors);
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toEqual({
      data: null,
      errors: [expect.objectContaining({ extensions: { code: 'CONFLICT' }, message: expect.stringContaining('nothing of this request was written') })],
    });
    // The other request wrote its three doses, and the stopped one nothing, not even its first fields.
    const winner = answers.indexOf(answers.find((a) => !a.errors)!) === 0 ? '2024-01-01' : '2024-01-02';
    const doses = await t.db.query(`SELECT to_char(vaccinated_on, 'YYYY-MM-DD') AS on FROM vaccination_record WHERE municipality_code = $1`, [home.code]);
    expect(doses).toEqual([{ on: winner }, { on: winner }, { on: winner }]);
    // The operator sees the collision in the log, at info: the client was answered.
    const logged = t.log.entries.filter((e) => e.municipalityCode === home.code && /crossed another/.test(String(e.msg)));
    expect(logged).toEqual([expect.objectContaining({ level: 'info', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), err: expect.objectContaining({ code: '40P01' }) })]);
  });

  it('a request stopped that way still counts and logs a wrong current password it was sent', async () => {
    const home = await t.tenant();
    const other = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: home.code });
    const [x, y, stopOne, stopTwo] = await residents(home.officer, 4);
    const DOC = RECORD_THREE.replace('{', '{ c: changePassword(currentPassword: "a-wrong-guess-123", newPassword: "whatever-new-1234") { accountId userErrors { code } }');
    const answers = await crossing(() => home.officer.gql(DOC, { a: dose(x, '2024-01-01'), stop: dose(stopOne, '2024-01-01'), b: dose(y, '2024-01-01') }), x,
      () => other.gql(DOC, { a: dose(y, '2024-01-02'), stop: dose(stopTwo, '2024-01-02'), b: dose(x, '2024-01-02') }), y, [stopOne, stopTwo]);
    expect(answers.filter((a) => a.errors).map(codes)).toEqual([['CONFLICT']]);
    for (const id of [home.officer.accountId, other.accountId]) {
      const [{ failed_login_count: failures }] = await t.db.query('SELECT failed_login_count FROM account WHERE id = $1', [id]);
      const logged = await t.db.query(`SELECT outcome FROM audit_event WHERE operation = 'account.changePassword' AND $1 = ANY(target_ids)`, [id]);
      expect({ failures, logged }).toEqual({ failures: 1, logged: [{ outcome: 'FAILURE' }] });
    }
  });

  it('a site\'s request stopped that way still logs a registration it refused', async () => {
    const home = await t.tenant();
    const [x, y, stopOne, stopTwo] = [await residentWithTicket(home.officer), await residentWithTicket(home.officer), await residentWithTicket(home.officer), await residentWithTicket(home.officer)];
    const [siteA, siteB] = [await tablet(t, home.code), await tablet(t, home.code)];
    const DOC = `mutation($f: RegisterDoseInput!, $a: RegisterDoseInput!, $stop: RegisterDoseInput!, $b: RegisterDoseInput!) {
      f: registerDose(input: $f) { receipt { id } userErrors { code } }
      a: registerDose(input: $a) { receipt { id } userErrors { code } }
      stop: registerDose(input: $stop) { receipt { id } userErrors { code } }
      b: registerDose(input: $b) { receipt { id } userErrors { code } }
    }`;
    const on = (r: { ticketNumber: string }) => doseInput(home.code, r.ticketNumber);
    const refused = () => doseInput(home.code, x.ticketNumber, { vaccinatedOn: '2099-01-01' });
    const answers = await crossing(
      () => siteA.gql(DOC, { f: refused(), a: on(x), stop: on(stopOne), b: on(y) }), x.residentId,
      () => siteB.gql(DOC, { f: refused(), a: on(y), stop: on(stopTwo), b: on(x) }), y.residentId, [stopOne.residentId, stopTwo.residentId]);
    expect(answers.filter((a) => a.errors).map(codes)).toEqual([['CONFLICT']]);
    for (const site of [siteA, siteB]) {
      const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE operation = 'vaccination.register' AND outcome = 'FAILURE' AND actor_id = $1`, [site.accountId]);
      expect(n).toBe(1);
    }
  });
});

describe('a server that stops', () => {
  it('lets a mutation under way finish and answer before it closes the connection, and accepts no new one', async () => {
    const app = await TestApp.start();
    try {
      const { officer } = await app.tenant();
      const { id } = await registerResident(officer);
      // The mutation is stopped at the resident's row, held by a transaction of the test's own.
      const holder = app.db.createQueryRunner();
      await holder.connect();
      await holder.startTransaction();
      await holder.query('SELECT 1 FROM resident WHERE id = $1 FOR UPDATE', [id]);
      const answer = officer.gql(MOVE, { id });
      await blockedBy(app.db, holder);
      const stopped = app.app.stop();
      await new Promise((r) => setTimeout(r, 300));
      await expect(fetch(`${app.app.listeners.lgwanUrl}/healthz`)).rejects.toThrow();
      await holder.commitTransaction();
      await holder.release();
      expect(await answer).toEqual({ data: { markResidentMovedOut: { resident: { status: 'MOVED_OUT' }, userErrors: [] } } });
      await stopped;
      expect(await app.db.query('SELECT status FROM resident WHERE id = $1', [id])).toEqual([{ status: 'MOVED_OUT' }]);
    } finally {
      await app.app.services.db.destroy();
      await app.db.destroy();
    }
  });
});
