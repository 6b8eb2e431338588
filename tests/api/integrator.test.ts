import { Channel, Role } from '../../src/schema/enums';
import { earliestDate, parseDoseIntervals } from '../../src/validation/dose-intervals';
import { blockedBy, codes, GraphQLResponse, Session, TestApp } from '../helpers/test-app';
import { doseInput, freshTicketNumber, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start({ integratorRequestsPerMinute: 40 });
});
afterAll(() => t.stop());

const CHECK = `query($m: String!, $n: String!, $b: String!) {
  ticketEligibility(municipalityCode: $m, ticketNumber: $n, birthDate: $b) { status nextDoseNumber nextDoseAllowedFrom }
}`;
const CONTRACT = `mutation($a: ID!, $m: String!) {
  createIntegratorContract(integratorAccountId: $a, municipalityCode: $m) { contract { municipalityCode integratorAccountId } userErrors { field code message } }
}`;
const END = `mutation($a: ID!, $m: String!) {
  deleteIntegratorContract(integratorAccountId: $a, municipalityCode: $m) { contract { municipalityCode } userErrors { field code message } }
}`;

const ALERTS = 'query($a: String) { securityAlerts(filter: { actorId: $a }, first: 500) { kind actorId municipalityCode sourceAddress detail } }';
const EVENTS = 'query($id: String!) { auditEvents(filter: { targetId: $id }) { nodes { operation municipalityCode targetIds outcome actorId } } }';

let operator: Session;
beforeAll(async () => {
  operator = await t.session(Role.OPERATOR, Channel.LGWAN);
});

/** An integrator signed in with its client credentials (the login mutation on the internet channel). */
async function contractedIntegrator(...municipalities: string[]): Promise<Session> {
  const integrator = await t.session(Role.INTEGRATOR, Channel.INTERNET);
  for (const m of municipalities) {
    const result = await operator.gql(CONTRACT, { a: integrator.accountId, m });
    expect(result.data.createIntegratorContract.userErrors).toEqual([]);
  }
  return integrator;
}

describe('integrator eligibility', () => {
  it('answers valid / completed / void and the earliest next date, with no personal data', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const site = await tablet(t, home.code);
    const { ticketNumber } = await residentWithTicket(home.officer, { birthDate: '1970-07-07' });
    const ask = async () => (await integrator.gql(CHECK, { m: home.code, n: ticketNumber, b: '1970-07-07' })).data.ticketEligibility;
    expect(await ask()).toEqual({ status: 'VALID', nextDoseNumber: 1, nextDoseAllowedFrom: null });
    await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { vaccinatedOn: '2024-05-01' }) });
    expect(await ask()).toEqual({ status: 'VALID', nextDoseNumber: 2, nextDoseAllowedFrom: '2024-05-19' });
    await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber: 2, vaccinatedOn: '2024-05-22' }) });
    expect(await ask()).toEqual({ status: 'COMPLETED', nextDoseNumber: null, nextDoseAllowedFrom: null });

    const moved = await residentWithTicket(home.officer, { birthDate: '1970-07-07' });
    await home.officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-01-01") { userErrors { code } } }', { id: moved.residentId });
    expect((await integrator.gql(CHECK, { m: home.code, n: moved.ticketNumber, b: '1970-07-07' })).data.ticketEligibility)
      .toEqual({ status: 'MOVED_OUT', nextDoseNumber: null, nextDoseAllowedFrom: null });
    const died = await residentWithTicket(home.officer, { birthDate: '1970-07-07' });
    await home.officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-01-01") { userErrors { code } } }', { id: died.residentId });
    expect((await integrator.gql(CHECK, { m: home.code, n: died.ticketNumber, b: '1970-07-07' })).data.ticketEligibility.status).toBe('VOID');

    const seen = await integrator.gql(`query($m: String!, $n: String!, $b: String!) { ticketEligibility(municipalityCode: $m, ticketNumber: $n, birthDate: $b) { status familyName } }`, { m: home.code, n: ticketNumber, b: '1970-07-07' });
    expect(codes(seen)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('a wrong birth date, an unknown ticket and a municipality without a contract look exactly alike', async () => {
    const contracted = await t.tenant();
    const other = await t.tenant();
    const integrator = await contractedIntegrator(contracted.code);
    const mine = await residentWithTicket(contracted.officer, { birthDate: '1980-01-02' });
    const theirs = await residentWithTicket(other.officer, { birthDate: '1980-01-02' });
    const answers = await Promise.all([
      integrator.gql(CHECK, { m: contracted.code, n: mine.ticketNumber, b: '1980-01-03' }),
      integrator.gql(CHECK, { m: contracted.code, n: freshTicketNumber(), b: '1980-01-02' }),
      integrator.gql(CHECK, { m: other.code, n: theirs.ticketNumber, b: '1980-01-02' }),
      integrator.gql(CHECK, { m: '479993', n: theirs.ticketNumber, b: '1980-01-02' }),
    ]);
    for (const a of answers) expect(a).toEqual({ data: { ticketEligibility: { status: 'NOT_FOUND', nextDoseNumber: null, nextDoseAllowedFrom: null } } });
    // The same ticket answers once the contract exists, and stops when it ends.
    await operator.gql(CONTRACT, { a: integrator.accountId, m: other.code });
    expect((await integrator.gql(CHECK, { m: other.code, n: theirs.ticketNumber, b: '1980-01-02' })).data.ticketEligibility.status).toBe('VALID');
    expect((await operator.gql(END, { a: integrator.accountId, m: other.code })).data.deleteIntegratorContract.userErrors).toEqual([]);
    expect((await integrator.gql(CHECK, { m: other.code, n: theirs.ticketNumber, b: '1980-01-02' })).data.ticketEligibility.status).toBe('NOT_FOUND');
  });

  it('stops answering for a ticket after a few wrong birth dates, even the right one, and alerts the operator', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const guessed = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    const other = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    const ask = async (n: string, b: string) => (await integrator.gql(CHECK, { m: home.code, n, b })).data.ticketEligibility.status;
    for (const b of ['1966-03-01', '1966-03-02', '1966-03-03', '1966-03-05', '1966-03-06']) expect(await ask(guessed.ticketNumber, b)).toBe('NOT_FOUND');
    expect(await ask(guessed.ticketNumber, '1966-03-04')).toBe('NOT_FOUND');
    // Other tickets, and other integrators, are not held up.
    expect(await ask(other.ticketNumber, '1966-03-04')).toBe('VALID');
    const another = await contractedIntegrator(home.code);
    expect((await another.gql(CHECK, { m: home.code, n: guessed.ticketNumber, b: '1966-03-04' })).data.ticketEligibility.status).toBe('VALID');
    const alerts = await t.db.query(`SELECT detail FROM security_alert WHERE kind = 'ELIGIBILITY_GUESSING' AND actor_id = $1`, [integrator.accountId]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].detail).not.toContain(guessed.ticketNumber);
  });

  it('names the municipality and the ticket guessed at, by id, in the alert and in the log, where a blocked check is DENIED', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const guessed = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    const ask = async (b: string) => (await integrator.gql(CHECK, { m: home.code, n: guessed.ticketNumber, b })).data.ticketEligibility.status;
    for (const b of ['1966-03-01', '1966-03-02', '1966-03-03', '1966-03-05', '1966-03-06', '1966-03-04']) expect(await ask(b)).toBe('NOT_FOUND');

    const alerts = (await operator.gql(ALERTS, { a: integrator.accountId })).data.securityAlerts;
    expect(alerts).toEqual([{
      kind: 'ELIGIBILITY_GUESSING', actorId: integrator.accountId, municipalityCode: home.code, sourceAddress: expect.any(String),
      detail: `5 eligibility checks of ticket ${guessed.ticketId} found nothing, none 15 min after the last; it answers NOT_FOUND until its checks pause for 15 min`,
    }]);
    // The municipality finds every check of its ticket by the ticket's id; the refused one as DENIED.
    const events = (await home.officer.gql(EVENTS, { id: guessed.ticketId })).data.auditEvents.nodes;
    expect(events).toEqual([
      { operation: 'eligibility.check.blocked', municipalityCode: home.code, targetIds: [guessed.ticketId], outcome: 'DENIED', actorId: integrator.accountId },
      ...Array(5).fill({ operation: 'eligibility.check.notFound', municipalityCode: home.code, targetIds: [guessed.ticketId], outcome: 'SUCCESS', actorId: integrator.accountId }),
      { operation: 'ticket.issue', municipalityCode: home.code, targetIds: [guessed.ticketId], outcome: 'SUCCESS', actorId: home.officer.accountId },
    ]);
    // Neither names the ticket's number, nor any birth date.
    const written = JSON.stringify([alerts, events]);
    expect(written).not.toContain(guessed.ticketNumber);
    expect(written).not.toMatch(/1966/);
  });

  it('alerts on a guessed ticket number that names no ticket the integrator may check, without an id', async () => {
    const home = await t.tenant();
    const other = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const theirs = await residentWithTicket(other.officer, { birthDate: '1966-03-04' });
    for (const m of [home.code, other.code]) {
      for (const b of ['1966-03-01', '1966-03-02', '1966-03-03', '1966-03-05', '1966-03-06', '1966-03-04']) {
        expect((await integrator.gql(CHECK, { m, n: theirs.ticketNumber, b })).data.ticketEligibility.status).toBe('NOT_FOUND');
      }
    }
    const alerts = (await operator.gql(ALERTS, { a: integrator.accountId })).data.securityAlerts;
    const detail = '5 eligibility checks of one ticket number (no ticket the integrator may check) found nothing, none 15 min after the last; it answers NOT_FOUND until its checks pause for 15 min';
    expect(alerts).toEqual([other.code, home.code].map((municipalityCode) => ({
      kind: 'ELIGIBILITY_GUESSING', actorId: integrator.accountId, municipalityCode, sourceAddress: expect.any(String), detail,
    })));
    // Without a contract the ticket is not looked up at all, nor named in its municipality's log.
    expect((await other.officer.gql(EVENTS, { id: theirs.ticketId })).data.auditEvents.nodes.map((e: { operation: string }) => e.operation)).toEqual(['ticket.issue']);
  });

  it('alerts the operator once when an integrator\'s checks keep finding nothing over many tickets, without holding it up', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const guessed = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    const spared = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    const ask = async (n: string, b: string) => (await integrator.gql(CHECK, { m: home.code, n, b })).data.ticketEligibility.status;
    const alerts = () => t.db.query(`SELECT kind, actor_id, municipality_code, source_address, detail FROM security_alert WHERE kind = 'ELIGIBILITY_MISSES' AND actor_id = $1`, [integrator.accountId]);
    // Five misses and one refused check of one ticket, then four misses on each of others: 29 answers NOT_FOUND.
    for (const b of ['03-01', '03-02', '03-03', '03-05', '03-06', '03-04']) expect(await ask(guessed.ticketNumber, `1966-${b}`)).toBe('NOT_FOUND');
    const others = [...Array.from({ length: 5 }, () => Array(4).fill(freshTicketNumber())).flat(), ...Array(3).fill(freshTicketNumber())];
    for (const n of others) expect(await ask(n, '1966-03-04')).toBe('NOT_FOUND');
    expect(await alerts()).toEqual([]);
    expect(await ask(freshTicketNumber(), '1966-03-04')).toBe('NOT_FOUND');
    const raised = [{
      kind: 'ELIGIBILITY_MISSES', actor_id: integrator.accountId, municipality_code: home.code, source_address: expect.any(String),
      detail: '30 eligibility checks found nothing within 15 min, over any tickets',
    }];
    expect(await alerts()).toEqual(raised);
    expect(await ask(freshTicketNumber(), '1966-03-04')).toBe('NOT_FOUND');
    expect(await alerts()).toEqual(raised);
    // Its other answers go on: the reservation site's users are not all shut out.
    expect(await ask(spared.ticketNumber, '1966-03-04')).toBe('VALID');
  });

  it('keeps a guessed ticket answering nothing while its checks go on, until they pause for 15 minutes', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const guessed = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    const ask = async (b: string) => (await integrator.gql(CHECK, { m: home.code, n: guessed.ticketNumber, b })).data.ticketEligibility.status;
    // The clock moves on by moving the recorded checks into the past.
    const elapse = (minutes: number) => t.db.query(
      `UPDATE detection_window SET events = ARRAY(SELECT e - make_interval(mins => $2) FROM unnest(events) e) WHERE key = $1`,
      [`eligibility:${integrator.accountId}:${home.code}:${guessed.ticketNumber}`, minutes],
    );
    // Five misses four minutes apart: the first is older than the window by the time the right date is tried.
    for (const b of ['1966-03-01', '1966-03-02', '1966-03-03', '1966-03-05', '1966-03-06']) {
      expect(await ask(b)).toBe('NOT_FOUND');
      await elapse(4);
    }
    expect(await ask('1966-03-04')).toBe('NOT_FOUND');
    for (let i = 0; i < 4; i++) {
      await elapse(14);
      expect(await ask('1966-03-04')).toBe('NOT_FOUND');
    }
    await elapse(15);
    expect(await ask('1966-03-04')).toBe('VALID');
  });

  it('counts checks sent at once, as aliases of one request: no more than five birth dates are tried', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const guessed = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    // The birth dates that reach the database to be compared with the ticket's.
    const compared: string[] = [];
    const { logQuery } = t.queries;
    t.queries.logQuery = (query: string, parameters?: unknown[]) => {
      if (!/r\.birth_date = q\.born/.test(query)) return logQuery.call(t.queries, query);
      const [, , numbers, dates] = parameters as [string, string[], string[], (string | null)[]];
      numbers.forEach((n, i) => n === guessed.ticketNumber && dates[i] !== null && compared.push(String(dates[i])));
      logQuery.call(t.queries, query);
    };
    try {
      const dates = ['03-01', '03-02', '03-03', '03-05', '03-06', '03-07', '03-08', '03-09'];
      const query = `{ ${dates.map((d, i) => `c${i}: ticketEligibility(municipalityCode: "${home.code}", ticketNumber: "${guessed.ticketNumber}", birthDate: "1966-${d}") { status }`).join(' ')} }`;
      const answer = await integrator.gql(query);
      expect(Object.values(answer.data).map((c: any) => c.status)).toEqual(dates.map(() => 'NOT_FOUND'));
      expect(compared).toHaveLength(5);
      expect((await integrator.gql(CHECK, { m: home.code, n: guessed.ticketNumber, b: '1966-03-04' })).data.ticketEligibility.status).toBe('NOT_FOUND');
      expect(compared).toHaveLength(5);
    } finally {
      t.queries.logQuery = logQuery;
    }
    const alerts = await t.db.query(`SELECT kind FROM security_alert WHERE actor_id = $1`, [integrator.accountId]);
    expect(alerts).toEqual([{ kind: 'ELIGIBILITY_GUESSING' }]);
  });

  it('looks up the tickets of checks sent at once, as aliases of one request, in as many statements as one check', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const tickets = [];
    for (let i = 0; i < 5; i++) tickets.push(await residentWithTicket(home.officer, { birthDate: '1970-07-07' }));
    await home.officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-01-01") { userErrors { code } } }', { id: tickets[3].residentId });
    const statuses = async (asked: { ticketNumber: string }[], birthDate = '1970-07-07') => {
      const query = `{ ${asked.map((a, i) => `c${i}: ticketEligibility(municipalityCode: "${home.code}", ticketNumber: "${a.ticketNumber}", birthDate: "${birthDate}") { status nextDoseNumber }`).join(' ')} }`;
      const start = t.queries.count;
      const answer = await integrator.gql(query);
      expect(answer.errors).toBeUndefined();
      return { statements: t.queries.count - start, answers: Object.values(answer.data) };
    };
    const one = await statuses(tickets.slice(0, 1));
    const five = await statuses([...tickets, { ticketNumber: freshTicketNumber() }]);
    expect(one.answers).toEqual([{ status: 'VALID', nextDoseNumber: 1 }]);
    // Each alias is answered for its own ticket: the one moved out, and the number no one holds, apart.
    expect(five.answers).toEqual([
      ...Array(3).fill({ status: 'VALID', nextDoseNumber: 1 }), { status: 'MOVED_OUT', nextDoseNumber: null }, { status: 'VALID', nextDoseNumber: 1 },
      { status: 'NOT_FOUND', nextDoseNumber: null },
    ]);
    expect(five.statements).toBe(one.statements);
    expect((await statuses(tickets.slice(0, 2), '1970-07-08')).answers).toEqual(Array(2).fill({ status: 'NOT_FOUND', nextDoseNumber: null }));
  });

  it('does not count a check that found its ticket as a miss', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const resident = await residentWithTicket(home.officer, { birthDate: '1966-03-04' });
    const ask = async (b: string) => (await integrator.gql(CHECK, { m: home.code, n: resident.ticketNumber, b })).data.ticketEligibility.status;
    for (let i = 0; i < 10; i++) expect(await ask('1966-03-04')).toBe('VALID');
    for (const b of ['1966-03-01', '1966-03-02', '1966-03-03', '1966-03-05']) expect(await ask(b)).toBe('NOT_FOUND');
    expect(await ask('1966-03-04')).toBe('VALID');
  });

  it('refuses malformed input with a field, and limits the rate per client', async () => {
    const integrator = await contractedIntegrator();
    const bad = await integrator.gql(CHECK, { m: '131017', n: '0000000001', b: '1980-01-01' });
    expect(bad.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: ['municipalityCode'], reason: 'INVALID_CHECK_DIGIT' });
    const results = [];
    for (let i = 0; i < 45; i++) results.push(await integrator.gql(CHECK, { m: '131016', n: '0000000001', b: '1980-01-01' }));
    const limited = results.filter((r) => codes(r).includes('RATE_LIMITED'));
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0].errors?.[0].message).toMatch(/Too many eligibility checks/);
    // Another client keeps its own allowance.
    const fresh = await contractedIntegrator();
    expect(codes(await fresh.gql(CHECK, { m: '131016', n: '0000000001', b: '1980-01-01' }))).toEqual([]);
  });

  it('limits the rate across every API process', async () => {
    const integrator = await contractedIntegrator();
    const { masterKey, tokenSecret } = t.app.services.config;
    const other = await TestApp.start({ masterKey, tokenSecret, integratorRequestsPerMinute: 40 });
    try {
      const there = other.sessionFor(integrator.token, Channel.INTERNET, { id: integrator.accountId, loginId: integrator.loginId }, null);
      const results = [];
      // 25 checks in each process: neither alone goes past 40 a minute.
      for (let i = 0; i < 25; i++) {
        for (const client of [integrator, there]) results.push(await client.gql(CHECK, { m: '131016', n: '0000000001', b: '1980-01-01' }));
      }
      expect(results.filter((r) => codes(r).includes('RATE_LIMITED'))).toHaveLength(10);
    } finally {
      await other.stop();
    }
  });

  it('serves exactly the limit of checks sent at once', async () => {
    const integrator = await contractedIntegrator();
    const results = await Promise.all(Array.from({ length: 50 }, () => integrator.gql(CHECK, { m: '131016', n: '0000000001', b: '1980-01-01' })));
    expect(results.filter((r) => codes(r).includes('RATE_LIMITED'))).toHaveLength(10);
  });

  it('does not count refused checks: a client that keeps asking is served again once its answered checks are a minute old', async () => {
    const integrator = await contractedIntegrator();
    const ask = async () => codes(await integrator.gql(CHECK, { m: '131016', n: '0000000001', b: '1980-01-01' }));
    // The clock moves on by moving the recorded checks into the past.
    const elapse = (seconds: number) => t.db.query(
      `UPDATE detection_window SET events = ARRAY(SELECT e - make_interval(secs => $2) FROM unnest(events) e) WHERE key = $1`,
      [`rate:eligibility:${integrator.accountId}`, seconds],
    );
    for (let i = 0; i < 40; i++) expect(await ask()).toEqual([]);
    await elapse(30);
    for (let i = 0; i < 40; i++) expect(await ask()).toEqual(['RATE_LIMITED']);
    await elapse(31);
    // The 40 answered checks are a minute old; the 40 refused ones, 31 seconds old, take no place.
    for (let i = 0; i < 40; i++) expect(await ask()).toEqual([]);
    expect(await ask()).toEqual(['RATE_LIMITED']);
  });

  it('contracts: operator manages them, an integrator sees only its own, bad references are refused', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const other = await contractedIntegrator(home.code);
    const LIST = '{ integratorContracts { municipalityCode integratorAccountId } }';
    expect((await integrator.gql(LIST)).data.integratorContracts).toEqual([{ municipalityCode: home.code, integratorAccountId: integrator.accountId }]);
    expect((await operator.gql('query($a: ID) { integratorContracts(integratorAccountId: $a) { municipalityCode } }', { a: other.accountId })).data.integratorContracts).toEqual([{ municipalityCode: home.code }]);
    // An id no account can have is the caller's mistake, not an integrator without contracts.
    for (const a of ['x', '']) {
      const bad = await operator.gql('query($a: ID) { integratorContracts(integratorAccountId: $a) { municipalityCode } }', { a });
      expect(bad.errors).toEqual([expect.objectContaining({ message: 'integratorAccountId: must be a UUID', extensions: { code: 'BAD_USER_INPUT', field: ['integratorAccountId'], reason: 'INVALID_FORMAT' } })]);
    }
    // So is an id no account has, or an account that is no integrator: the operator is told, not shown no contracts.
    const BY = 'query($a: ID) { integratorContracts(integratorAccountId: $a) { municipalityCode } }';
    for (const [a, message, reason] of [
      ['00000000-0000-4000-8000-000000000000', 'is not an account id: no account has it', 'NOT_FOUND'],
      [home.officer.accountId, 'is not an INTEGRATOR account', 'NOT_INTEGRATOR'],
    ]) {
      const unknown = await operator.gql(BY, { a });
      expect(unknown.errors).toEqual([expect.objectContaining({ message: `integratorAccountId: ${message}`, extensions: { code: 'BAD_USER_INPUT', field: ['integratorAccountId'], reason } })]);
    }
    // An integrator asking about another account learns nothing of it.
    expect((await integrator.gql(BY, { a: other.accountId })).data.integratorContracts).toEqual([]);
    expect((await integrator.gql(BY, { a: '00000000-0000-4000-8000-000000000000' })).data.integratorContracts).toEqual([]);
    const again = await operator.gql(CONTRACT, { a: integrator.accountId, m: home.code });
    expect(again.data.createIntegratorContract.userErrors[0].code).toBe('DUPLICATE');
    const notIntegrator = await operator.gql(CONTRACT, { a: home.officer.accountId, m: home.code });
    expect(notIntegrator.data.createIntegratorContract.userErrors[0]).toMatchObject({ field: ['integratorAccountId'], code: 'NOT_INTEGRATOR' });
    // A ward (横浜市鶴見区) is no municipality of its own: its designated city's tickets are the city's.
    expect((await operator.gql(CONTRACT, { a: integrator.accountId, m: '141011' })).data.createIntegratorContract.userErrors).toEqual([
      { field: ['municipalityCode'], code: 'UNKNOWN_MUNICIPALITY', message: 'is a ward of the designated city 141003, which is one municipality: give the city\'s code' },
    ]);
    expect(codes(await integrator.gql(CONTRACT, { a: integrator.accountId, m: '131016' }))).toEqual(['FORBIDDEN']);
  });

  it('ending a contract names the argument at fault, as making one does', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const end = async (a: string, m: string) => (await operator.gql(END, { a, m })).data.deleteIntegratorContract;
    for (const [a, m] of [[integrator.accountId, '131017'], ['not-a-uuid', home.code], [home.officer.accountId, home.code], [integrator.accountId, '479993']]) {
      const made = (await operator.gql(CONTRACT, { a, m })).data.createIntegratorContract.userErrors;
      expect(made).not.toEqual([]);
      expect((await end(a, m)).userErrors).toEqual(made);
    }
    expect((await end(integrator.accountId, '131017')).userErrors).toEqual([{ field: ['municipalityCode'], code: 'INVALID_CHECK_DIGIT', message: expect.any(String) }]);
    expect((await end('not-a-uuid', home.code)).userErrors).toEqual([{ field: ['integratorAccountId'], code: 'NOT_FOUND', message: 'not found or no access' }]);
    // Both well-formed and real, but never contracted to each other.
    const stranger = await contractedIntegrator();
    expect((await end(stranger.accountId, home.code)).userErrors).toEqual([{ field: ['municipalityCode'], code: 'NOT_FOUND', message: 'this municipality has no contract with this integrator' }]);
    expect((await end(integrator.accountId, home.code))).toEqual({ contract: { municipalityCode: home.code }, userErrors: [] });
  });

  it('ends a contract once when two operators end it at the same moment: the second is told it has none', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const second = await t.session(Role.OPERATOR, Channel.LGWAN);
    // Both requests have read the contract and reach their delete while its row is held; the first then wins.
    const hold = t.db.createQueryRunner();
    await hold.connect();
    await hold.startTransaction();
    await hold.query('SELECT 1 FROM integrator_contract WHERE municipality_code = $1 AND integrator_account_id = $2 FOR UPDATE', [home.code, integrator.accountId]);
    let answers: GraphQLResponse[];
    try {
      const sent = [operator, second].map((o) => o.gql(END, { a: integrator.accountId, m: home.code }));
      await blockedBy(t.db, hold, '%DELETE FROM "integrator_contract"%', 2);
      await hold.commitTransaction();
      answers = await Promise.all(sent);
    } finally {
      await hold.release();
    }
    const errors = answers.map((a) => a.data.deleteIntegratorContract.userErrors);
    expect(errors.filter((e) => e.length === 0)).toHaveLength(1);
    expect(errors.find((e) => e.length > 0)).toEqual([{ field: ['municipalityCode'], code: 'NOT_FOUND', message: 'this municipality has no contract with this integrator' }]);
    const ended = (await operator.gql(EVENTS, { id: integrator.accountId })).data.auditEvents.nodes.filter((e: { operation: string }) => e.operation === 'integratorContract.delete');
    expect(ended).toHaveLength(1);
  });

  it('logs a contract made or ended with the integrator\'s id in capitals where a search by that id finds it', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator();
    const upper = integrator.accountId.toUpperCase();
    expect((await operator.gql(CONTRACT, { a: upper, m: home.code })).data.createIntegratorContract.userErrors).toEqual([]);
    expect((await operator.gql(END, { a: upper, m: home.code })).data.deleteIntegratorContract.userErrors).toEqual([]);
    for (const id of [integrator.accountId, upper]) {
      expect((await operator.gql(EVENTS, { id })).data.auditEvents.nodes).toEqual([
        { operation: 'integratorContract.delete', municipalityCode: home.code, targetIds: [integrator.accountId], outcome: 'SUCCESS', actorId: operator.accountId },
        { operation: 'integratorContract.create', municipalityCode: home.code, targetIds: [integrator.accountId], outcome: 'SUCCESS', actorId: operator.accountId },
        { operation: 'login', municipalityCode: null, targetIds: [integrator.accountId], outcome: 'SUCCESS', actorId: null },
        { operation: 'account.create', municipalityCode: null, targetIds: [integrator.accountId], outcome: 'SUCCESS', actorId: null },
      ]);
    }
  });
});

describe('minimum dose intervals', () => {
  it('defaults to 18 days before dose 2 and 3 calendar months before later doses', () => {
    const intervals = parseDoseIntervals();
    expect(earliestDate(intervals, 2, '2024-05-01')).toBe('2024-05-19');
    expect(earliestDate(intervals, 3, '2024-11-30')).toBe('2025-02-28');
    expect(earliestDate(intervals, 7, '2024-01-15')).toBe('2024-04-15');
    expect(earliestDate(parseDoseIntervals('2:21d,3:6m,5:1m'), 5, '2024-01-31')).toBe('2024-02-29');
    expect(() => parseDoseIntervals('2:18x')).toThrow('DOSE_INTERVALS');
  });

  it('gives no date for a dose no interval applies to, rather than the previous dose\'s date', () => {
    expect(earliestDate(parseDoseIntervals('3:3m'), 2, '2024-05-01')).toBeNull();
    expect(earliestDate(parseDoseIntervals('3:3m'), 3, '2024-05-01')).toBe('2024-08-01');
  });

  it('answers a reservation system no earliest date when no interval applies to the next dose', async () => {
    const home = await t.tenant();
    const integrator = await contractedIntegrator(home.code);
    const site = await tablet(t, home.code);
    const { ticketNumber } = await residentWithTicket(home.officer, { birthDate: '1970-07-07' });
    await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { vaccinatedOn: '2024-05-01' }) });
    const { masterKey, tokenSecret } = t.app.services.config;
    const other = await TestApp.start({ masterKey, tokenSecret, doseIntervals: '3:3m' });
    try {
      const there = other.sessionFor(integrator.token, Channel.INTERNET, { id: integrator.accountId, loginId: integrator.loginId }, null);
      expect((await there.gql(CHECK, { m: home.code, n: ticketNumber, b: '1970-07-07' })).data.ticketEligibility)
        .toEqual({ status: 'VALID', nextDoseNumber: 2, nextDoseAllowedFrom: null });
    } finally {
      await other.stop();
    }
  });
});
