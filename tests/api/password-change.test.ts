import { Channel, Role } from '../../src/schema/enums';
import { baseUrl } from '../helpers/registry-csv';
import { blockedBy, codes, GraphQLResponse, PASSWORD, registerResident, Session, TestApp } from '../helpers/test-app';

/**
 * The operator issues every account with a password it chose; the holder must replace it before
 * the account can do anything, so the operator keeps no working credentials of anyone.
 */
let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start({ maxFailedLogins: 3 });
});
afterAll(() => t.stop());

const ISSUED = 'issued-by-operator-1';
const CHOSEN = 'chosen-by-holder-2';
const LOGIN = 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { accessToken mustChangePassword viewer { mustChangePassword } } }';
const CHANGE = 'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accountId userErrors { field code message } } }';
const CREATE = `mutation($input: CreateAccountInput!) {
  createAccount(input: $input) { account { id loginId mustChangePassword } userErrors { field code message } }
}`;

let serial = 0;

/** An account the operator creates through the API, with a password of the operator's choosing. */
async function issued(operator: Session, role: Role, scope: { municipalityCode?: string } = {}): Promise<{ id: string; loginId: string }> {
  const loginId = `issued-${process.pid}-${++serial}-${Date.now()}`;
  const result = await operator.gql(CREATE, { input: { loginId, password: ISSUED, role, displayName: loginId, ...scope } });
  expect(result.data.createAccount).toMatchObject({ account: { loginId, mustChangePassword: true }, userErrors: [] });
  return result.data.createAccount.account;
}

async function login(channel: Channel, loginId: string, password: string): Promise<GraphQLResponse> {
  return t.request(channel, LOGIN, { l: loginId, p: password });
}

async function signIn(channel: Channel, account: { id: string; loginId: string }, password: string, municipalityCode: string | null = null): Promise<Session> {
  const result = await login(channel, account.loginId, password);
  expect(codes(result)).toEqual([]);
  return t.sessionFor(result.data.login.accessToken, channel, account, municipalityCode);
}

const change = (session: Session, current: string, next: string) => session.gql(CHANGE, { c: current, n: next });

const auditOf = (accountId: string) =>
  t.db.query(`SELECT * FROM audit_event WHERE operation = 'account.changePassword' AND $1 = ANY(target_ids) ORDER BY id`, [accountId]);

describe('password issued by the operator', () => {
  it('opens nothing but changePassword and viewer until the holder replaces it; then the old password and tokens are dead and the new ones read the tenant', async () => {
    const { code, officer: colleague } = await t.tenant();
    const resident = await registerResident(colleague);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const account = await issued(operator, Role.MUNICIPALITY, { municipalityCode: code });

    const first = await login(Channel.LGWAN, account.loginId, ISSUED);
    expect(first.data.login).toMatchObject({ mustChangePassword: true, viewer: { mustChangePassword: true } });
    // What the operator could do with the password it chose: sign in as the officer, and read nothing.
    const officer = t.sessionFor(first.data.login.accessToken, Channel.LGWAN, account, code);
    expect((await officer.gql('{ viewer { role mustChangePassword municipality { code } } }')).data.viewer)
      .toEqual({ role: 'MUNICIPALITY', mustChangePassword: true, municipality: { code } });
    for (const query of [
      '{ residents { nodes { id myNumber } } }',
      `{ resident(id: "${resident.id}") { id familyName } }`,
      `{ residentByMyNumber(myNumber: "${resident.input.myNumber}") { id } }`,
      '{ vaccines { code } }',
      '{ municipalities(prefectureCode: "13") { code } }',
      '{ statistics(scope: { kind: MUNICIPALITY }) { totalDoses { value } } }',
      '{ auditEvents { nodes { id } } }',
      'mutation { issueTickets(input: { series: "1-2", allActiveResidents: true }) { issuedCount } }',
    ]) {
      const refused = await officer.gql(query);
      expect(Object.values(refused.data ?? {}).filter((value) => value !== null)).toEqual([]);
      expect(codes(refused)).toEqual(['PASSWORD_CHANGE_REQUIRED']);
    }
    // The CSV routes answer the same.
    const csv = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` } });
    expect(csv.status).toBe(403);
    expect(((await csv.json()) as GraphQLResponse).errors?.[0].extensions?.code).toBe('PASSWORD_CHANGE_REQUIRED');

    expect((await change(officer, ISSUED, CHOSEN)).data.changePassword).toEqual({ accountId: account.id, userErrors: [] });
    // The token the change was made with was issued under the operator's password: it is dead too.
    expect(codes(await officer.gql('{ viewer { role } }'))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await login(Channel.LGWAN, account.loginId, ISSUED))).toEqual(['UNAUTHENTICATED']);

    const renewed = await login(Channel.LGWAN, account.loginId, CHOSEN);
    expect(renewed.data.login).toMatchObject({ mustChangePassword: false, viewer: { mustChangePassword: false } });
    const own = t.sessionFor(renewed.data.login.accessToken, Channel.LGWAN, account, code);
    const residents = await own.gql('{ residents { nodes { id myNumber } } }');
    expect(residents.data.residents.nodes).toEqual([{ id: resident.id, myNumber: resident.input.myNumber }]);
    const listed = await operator.gql('query($m: String!) { accounts(filter: { municipalityCode: $m }) { nodes { id mustChangePassword } } }', { m: code });
    expect(listed.data.accounts.nodes).toContainEqual({ id: account.id, mustChangePassword: false });
  });

  it('is replaced on the channel the account signs in on, for any role', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const site = await issued(operator, Role.VACCINATION_SITE, { municipalityCode: await t.createMunicipality() });
    const tablet = await signIn(Channel.INTERNET, site, ISSUED);
    expect(codes(await tablet.gql('{ doseReceipt(id: "00000000-0000-4000-8000-000000000000") { id } }'))).toEqual(['PASSWORD_CHANGE_REQUIRED']);
    expect((await change(tablet, ISSUED, CHOSEN)).data.changePassword.userErrors).toEqual([]);
    const renewed = await signIn(Channel.INTERNET, site, CHOSEN);
    expect(codes(await renewed.gql('{ doseReceipt(id: "00000000-0000-4000-8000-000000000000") { id } }'))).toEqual([]);

    const colleague = await issued(operator, Role.OPERATOR);
    const forced = await signIn(Channel.LGWAN, colleague, ISSUED);
    expect(codes(await forced.gql('{ accounts { nodes { id } } }'))).toEqual(['PASSWORD_CHANGE_REQUIRED']);
    expect(codes(await forced.gql(CREATE, { input: { loginId: `x-${Date.now()}`, password: ISSUED, role: 'NATIONAL', displayName: 'x' } })))
      .toEqual(['PASSWORD_CHANGE_REQUIRED']);
  });

  it('is not forced on accounts whose password the holder set (an operator created from the shell; tests and demo data take the same path)', async () => {
    const account = await t.createAccount(Role.NATIONAL);
    const result = await login(Channel.LGWAN, account.loginId, PASSWORD);
    expect(result.data.login).toMatchObject({ mustChangePassword: false, viewer: { mustChangePassword: false } });
    const national = t.sessionFor(result.data.login.accessToken, Channel.LGWAN, account, null);
    expect(codes(await national.gql('{ statistics(scope: { kind: NATION }) { totalDoses { value } } }'))).toEqual([]);
  });
});

describe('changePassword', () => {
  it('refuses a wrong current password on currentPassword, changes nothing and writes no password into the log', async () => {
    const { officer } = await t.tenant();
    const result = await change(officer, 'not-the-password', CHOSEN);
    expect(result.data.changePassword).toEqual({
      accountId: null,
      userErrors: [{ field: ['currentPassword'], code: 'PASSWORD_INCORRECT', message: 'is incorrect, or the account is locked' }],
    });
    expect(codes(await officer.gql('{ viewer { role } }'))).toEqual([]);
    expect(codes(await login(Channel.LGWAN, officer.loginId, CHOSEN))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await login(Channel.LGWAN, officer.loginId, PASSWORD))).toEqual([]);

    expect((await change(officer, PASSWORD, CHOSEN)).data.changePassword.userErrors).toEqual([]);
    const events = await auditOf(officer.accountId);
    expect(events.map((e: { outcome: string; actor_id: string; municipality_code: string }) => [e.outcome, e.actor_id, e.municipality_code]))
      .toEqual([['FAILURE', officer.accountId, officer.municipalityCode], ['SUCCESS', officer.accountId, officer.municipalityCode]]);
    const logged = JSON.stringify(events);
    for (const secret of [PASSWORD, CHOSEN, 'not-the-password']) expect(logged).not.toContain(secret);
  });

  it('counts a wrong current password as a failed login: the account locks, and stays locked to the right password too', async () => {
    const { officer } = await t.tenant();
    for (let i = 0; i < 3; i++) {
      expect((await change(officer, `wrong-password-${i}`, CHOSEN)).data.changePassword.userErrors[0].code).toBe('PASSWORD_INCORRECT');
    }
    expect(codes(await login(Channel.LGWAN, officer.loginId, PASSWORD))).toEqual(['UNAUTHENTICATED']);
    // Locked: the token that was guessing with is refused, right password or not, and nothing more counts.
    for (const current of [PASSWORD, 'wrong-password-4']) expect(codes(await change(officer, current, CHOSEN))).toEqual(['UNAUTHENTICATED']);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const alerts = (await operator.gql('query($a: String) { securityAlerts(filter: { actorId: $a }) { kind actorId } }', { a: officer.accountId })).data.securityAlerts;
    expect(alerts).toContainEqual({ kind: 'ACCOUNT_LOCKED', actorId: officer.accountId });
    expect((await auditOf(officer.accountId)).map((e: { outcome: string }) => e.outcome)).toEqual(['FAILURE', 'FAILURE', 'FAILURE']);
  });

  it('holds the new password to the rule createAccount holds it to, and refuses the current one again', async () => {
    const { officer } = await t.tenant();
    expect((await change(officer, PASSWORD, 'short')).data.changePassword).toEqual({
      accountId: null,
      userErrors: [{ field: ['newPassword'], code: 'INVALID_FORMAT', message: 'must be at least 12 characters' }],
    });
    expect((await change(officer, PASSWORD, PASSWORD)).data.changePassword.userErrors)
      .toEqual([{ field: ['newPassword'], code: 'PASSWORD_UNCHANGED', message: 'must differ from the current password' }]);
    expect(codes(await officer.gql('{ viewer { role } }'))).toEqual([]);
    expect(codes(await login(Channel.LGWAN, officer.loginId, PASSWORD))).toEqual([]);
    // Each refused attempt is logged, as every attempt is.
    expect((await auditOf(officer.accountId)).map((e: { outcome: string; actor_id: string }) => [e.outcome, e.actor_id]))
      .toEqual([['FAILURE', officer.accountId], ['FAILURE', officer.accountId]]);
  });

  it('checks the current password first: a wrong one counts towards the lockout even beside a bad new one, and the answer names both', async () => {
    const { officer } = await t.tenant();
    for (const [current, next, refusal] of [
      ['wrong-password-1', 'short', { field: ['newPassword'], code: 'INVALID_FORMAT', message: 'must be at least 12 characters' }],
      ['wrong-password-2', 'wrong-password-2', { field: ['newPassword'], code: 'PASSWORD_UNCHANGED', message: 'must differ from the current password' }],
    ] as const) {
      expect((await change(officer, current, next)).data.changePassword).toEqual({
        accountId: null,
        userErrors: [{ field: ['currentPassword'], code: 'PASSWORD_INCORRECT', message: 'is incorrect, or the account is locked' }, refusal],
      });
    }
    expect(codes(await login(Channel.LGWAN, officer.loginId, PASSWORD))).toEqual([]);
    // The sign-in reset the count: three more, all with a bad new password, lock the account.
    for (let i = 0; i < 3; i++) expect((await change(officer, `wrong-password-${i}`, 'short')).data.changePassword.userErrors).toHaveLength(2);
    expect(codes(await login(Channel.LGWAN, officer.loginId, PASSWORD))).toEqual(['UNAUTHENTICATED']);
    // Locked, the account's token is refused, the right password or not.
    expect(codes(await change(officer, PASSWORD, 'short'))).toEqual(['UNAUTHENTICATED']);
    expect((await auditOf(officer.accountId)).map((e: { outcome: string }) => e.outcome))
      .toEqual(['FAILURE', 'FAILURE', 'FAILURE', 'FAILURE', 'FAILURE']);
    // Unlocked, the password is still the first one: no refused attempt changed it.
    await t.db.query('UPDATE account SET locked_until = NULL WHERE id = $1', [officer.accountId]);
    expect(codes(await login(Channel.LGWAN, officer.loginId, PASSWORD))).toEqual([]);
  });

  it('ends every token issued before the change, on both channels, however close in time (a password version, not a time, decides); tokens issued after it work', async () => {
    const { code, officer } = await t.tenant();
    const account = { id: officer.accountId, loginId: officer.loginId };
    const internet = await signIn(Channel.INTERNET, account, PASSWORD, code);
    const spare = await signIn(Channel.LGWAN, account, PASSWORD, code);
    expect((await change(officer, PASSWORD, CHOSEN)).data.changePassword.userErrors).toEqual([]);
    const after = await signIn(Channel.LGWAN, account, CHOSEN, code);
    for (const stale of [officer, internet, spare]) expect(codes(await stale.gql('{ residents { nodes { id } } }'))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await after.gql('{ residents { nodes { id } } }'))).toEqual([]);
    expect(codes(await (await signIn(Channel.INTERNET, account, CHOSEN, code)).gql('{ residents { nodes { id } } }'))).toEqual([]);
    // A stale token cannot change the password again either.
    expect(codes(await change(spare, PASSWORD, 'yet-another-password'))).toEqual(['UNAUTHENTICATED']);
  });

  it('tells the holder whose right password another request replaced first that it was replaced, not that it was wrong', async () => {
    const { code, officer } = await t.tenant();
    const account = { id: officer.accountId, loginId: officer.loginId };
    const other = await signIn(Channel.LGWAN, account, PASSWORD, code);
    // Both requests reach their write while the account's row is held; the first then wins.
    const hold = t.db.createQueryRunner();
    await hold.connect();
    await hold.startTransaction();
    await hold.query('SELECT 1 FROM account WHERE id = $1 FOR UPDATE', [account.id]);
    let answers: GraphQLResponse[];
    try {
      const sent = [change(officer, PASSWORD, CHOSEN), change(other, PASSWORD, 'chosen-elsewhere-3')];
      await blockedBy(t.db, hold, '%UPDATE account SET password_hash%', 2);
      await hold.commitTransaction();
      answers = await Promise.all(sent);
    } finally {
      await hold.release();
    }
    const errors = answers.map((a) => a.data.changePassword.userErrors);
    expect(errors.filter((e) => e.length === 0)).toHaveLength(1);
    expect(errors.find((e) => e.length > 0)).toEqual([{
      field: ['currentPassword'], code: 'INVALID_STATE', message: 'was replaced by another request while this one ran: sign in with the password it set',
    }]);
    // The right password is not counted as a failure.
    const [{ failed_login_count: failures }] = await t.db.query('SELECT failed_login_count FROM account WHERE id = $1', [account.id]);
    expect(failures).toBe(0);
    expect((await auditOf(account.id)).map((e: { outcome: string }) => e.outcome).sort()).toEqual(['DENIED', 'SUCCESS']);
  });

  it('is closed to anonymous callers', async () => {
    const result = await t.request(Channel.LGWAN, CHANGE, { c: PASSWORD, n: CHOSEN });
    expect(codes(result)).toEqual(['UNAUTHENTICATED']);
  });
});
