import { randomBytes, randomInt } from 'node:crypto';
import { AddressInfo, createServer } from 'node:net';
import * as passwords from '../../src/auth/password';
import { TokenSigner } from '../../src/auth/token';
import { createDataSource } from '../../src/db/data-source';
import { Account } from '../../src/entities/account.entity';
import { Channel, Role } from '../../src/schema/enums';
import { baseUrl } from '../helpers/registry-csv';
import { codes, GraphQLResponse, onServerOff, PASSWORD, registerResident, TestApp } from '../helpers/test-app';

/** The app's own signing key, so that tests can sign tokens no login would issue. */
const TOKEN_SECRET = randomBytes(32);

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start({ maxFailedLogins: 3, tokenSecret: TOKEN_SECRET });
});
afterAll(() => t.stop());

const VIEWER = '{ viewer { role channel municipality { code } } }';

/** A login from an address of its own, so that its failures do not throttle the other tests' logins. */
async function loginFrom(address: string, channel: Channel, loginId: string, password: string) {
  const response = await fetch(t.url(channel), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ query: 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { accessToken } }', variables: { l: loginId, p: password } }),
  });
  return (await response.json()) as GraphQLResponse;
}

describe('login', () => {
  it('issues a token bound to the channel it was requested on', async () => {
    const { code, officer } = await t.tenant();
    const result = await officer.gql(VIEWER);
    expect(result.data.viewer).toEqual({ role: 'MUNICIPALITY', channel: 'LGWAN', municipality: { code } });
  });

  it('refuses an LG-WAN token on the internet listener and vice versa', async () => {
    const { code, officer } = await t.tenant();
    const onInternet = await t.request(Channel.INTERNET, '{ residents { nodes { id } } }', {}, officer.token);
    expect(codes(onInternet)).toEqual(['UNAUTHENTICATED']);

    const internetOfficer = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    expect((await internetOfficer.gql(VIEWER)).data.viewer.channel).toBe('INTERNET');
    const onLgwan = await t.request(Channel.LGWAN, '{ residents { nodes { id } } }', {}, internetOfficer.token);
    expect(codes(onLgwan)).toEqual(['UNAUTHENTICATED']);
  });

  it('does not let a client choose its channel with a header or variable', async () => {
    const { officer } = await t.tenant();
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: officer.municipalityCode! });
    const response = await fetch(t.url(Channel.INTERNET), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${internet.token}`, 'x-channel': 'LGWAN', 'x-forwarded-for': '10.0.0.1' },
      body: JSON.stringify({ query: VIEWER }),
    });
    expect(((await response.json()) as any).data.viewer.channel).toBe('INTERNET');
  });

  it('refuses roles on channels they do not use (a tablet on LG-WAN, a national officer on the internet) as it refuses a wrong password', async () => {
    const site = await t.createAccount(Role.VACCINATION_SITE, { municipalityCode: await t.createMunicipality() });
    const national = await t.createAccount(Role.NATIONAL);
    const wrongPassword = await t.login(Channel.INTERNET, national.loginId, 'not-the-password');
    expect(codes(wrongPassword)).toEqual(['UNAUTHENTICATED']);
    // The right password on the wrong channel gets the very same answer: it does not confirm the password.
    expect(await t.login(Channel.LGWAN, site.loginId)).toEqual(wrongPassword);
    expect(await t.login(Channel.INTERNET, national.loginId)).toEqual(wrongPassword);
    expect(codes(await t.login(Channel.LGWAN, national.loginId))).toEqual([]);
  });

  it('does not let failures on a channel an account never uses lock it out', async () => {
    const national = await t.createAccount(Role.NATIONAL);
    // As many as lock an account on its own channel (this app locks after 3).
    for (let i = 0; i < 3; i++) expect(codes(await loginFrom('198.51.100.7', Channel.INTERNET, national.loginId, 'not-the-password'))).toEqual(['UNAUTHENTICATED']);
    const [row] = await t.db.query('SELECT failed_login_count, locked_until FROM account WHERE id = $1', [national.id]);
    expect(row).toEqual({ failed_login_count: 0, locked_until: null });
    expect(codes(await t.login(Channel.LGWAN, national.loginId))).toEqual([]);
    const events = await t.db.query(`SELECT outcome FROM audit_event WHERE operation = 'login' AND $1 = ANY(target_ids) ORDER BY id`, [national.id]);
    expect(events.map((e: { outcome: string }) => e.outcome)).toEqual(['DENIED', 'DENIED', 'DENIED', 'SUCCESS']);
  });

  it('throttles the addresses of one IPv6 /64 together, as one client that holds them all, and not the next /64', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    const [a, b] = [randomInt(0x10000), randomInt(0xffff)];
    const network = `2001:db8:${a.toString(16)}:${b.toString(16)}`;
    // Twenty failures, each from an address of its own in the /64, as a client rotating through them sends them.
    for (let i = 1; i <= 20; i++) expect(codes(await loginFrom(`${network}::${i.toString(16)}`, Channel.LGWAN, `unknown-${i}`, 'not-the-password'))).toEqual(['UNAUTHENTICATED']);
    // Yet another address of it, written out in full, is refused the right password; the next /64 is another client.
    const fullForm = `2001:0db8:${a.toString(16).padStart(4, '0')}:${b.toString(16).padStart(4, '0')}:ffff:ffff:ffff:ffff`;
    expect(codes(await loginFrom(fullForm, Channel.LGWAN, account.loginId, PASSWORD))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await loginFrom(`2001:db8:${a.toString(16)}:${(b + 1).toString(16)}::1`, Channel.LGWAN, account.loginId, PASSWORD))).toEqual([]);
    // The alert names the address that reached the limit, as the operator needs it.
    const alerts = await t.db.query(`SELECT source_address FROM security_alert WHERE kind = 'LOGIN_THROTTLED' AND source_address LIKE $1`, [`${network}:%`]);
    expect(alerts).toEqual([{ source_address: `${network}::14` }]);
  });

  it('throttles an IPv4 address and the same address written IPv4-mapped, as a dual-stack socket reports it, together', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    const address = `192.0.2.${randomInt(1, 255)}`;
    for (let i = 0; i < 20; i++) {
      const from = i % 2 ? address : `::ffff:${address}`;
      expect(codes(await loginFrom(from, Channel.LGWAN, `unknown-${i}`, 'not-the-password'))).toEqual(['UNAUTHENTICATED']);
    }
    expect(codes(await loginFrom(address, Channel.LGWAN, account.loginId, PASSWORD))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await loginFrom(`::ffff:${address}`, Channel.LGWAN, account.loginId, PASSWORD))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.login(Channel.LGWAN, account.loginId))).toEqual([]);
  });

  it('answers a login ID no account can have as an unknown one, and one holding a NUL the same for every account', async () => {
    const unknown = await loginFrom('198.51.100.8', Channel.LGWAN, 'nobody-by-this-name', 'not-the-password');
    expect(await loginFrom('198.51.100.8', Channel.LGWAN, 'operator\u0007', 'not-the-password')).toEqual(unknown);
    // A NUL is no text at all: refused before any look-up, alike whoever the rest names.
    const nul = await loginFrom('198.51.100.8', Channel.LGWAN, 'operator\u0000', 'not-the-password');
    expect(nul).toEqual({ errors: [{ message: 'variables.l must not contain NUL characters or unpaired surrogates', extensions: { code: 'BAD_USER_INPUT', field: ['variables', 'l'] } }] });
    expect(await loginFrom('198.51.100.8', Channel.LGWAN, 'nobody-by-this-name\u0000', 'not-the-password')).toEqual(nul);
  });

  it('answers an unknown login ID exactly like a wrong password', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    const wrong = await t.login(Channel.LGWAN, account.loginId, 'not-the-password');
    const unknown = await t.login(Channel.LGWAN, 'nobody-by-this-name', 'not-the-password');
    expect(wrong.errors).toEqual(unknown.errors);
    expect(codes(wrong)).toEqual(['UNAUTHENTICATED']);
  });

  it('locks the account after repeated failures, even against the right password', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    for (let i = 0; i < 3; i++) expect(codes(await t.login(Channel.LGWAN, account.loginId, 'wrong-password!'))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.login(Channel.LGWAN, account.loginId, PASSWORD))).toEqual(['UNAUTHENTICATED']);
    const [row] = await t.db.query('SELECT locked_until > now() AS locked FROM account WHERE id = $1', [account.id]);
    expect(row.locked).toBe(true);
    const events = await t.db.query(`SELECT outcome FROM audit_event WHERE operation = 'login' AND $1 = ANY(target_ids) ORDER BY id`, [account.id]);
    expect(events.map((e: { outcome: string }) => e.outcome)).toEqual(['FAILURE', 'FAILURE', 'FAILURE', 'DENIED']);
  });

  it('signs in an account whose password, set before the maximum, is longer than 256 characters, and lets it be changed', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    const long = `${PASSWORD}${'x'.repeat(400)}`;
    await t.db.query('UPDATE account SET password_hash = $2 WHERE id = $1', [account.id, await passwords.hashPassword(long)]);
    const signedIn = await t.login(Channel.LGWAN, account.loginId, long);
    expect(signedIn.data.login).toMatchObject({ accessToken: expect.any(String) });
    const CHANGE = 'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { userErrors { code } } }';
    const changed = await t.request(Channel.LGWAN, CHANGE, { c: long, n: 'a-shorter-one-2026' }, signedIn.data.login.accessToken);
    expect(changed.data.changePassword.userErrors).toEqual([]);
  });

  it('refuses the right password when the account was locked while the password was being checked', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    const repo = t.app.services.db.getRepository(Account);
    // The account as read by an attempt that began before the failures below locked it.
    const before = await repo.findOneByOrFail({ id: account.id });
    for (let i = 0; i < 3; i++) await t.login(Channel.LGWAN, account.loginId, 'wrong-password!');
    const stale = jest.spyOn(repo, 'findOneBy').mockResolvedValueOnce(before);
    try {
      expect(codes(await t.login(Channel.LGWAN, account.loginId, PASSWORD))).toEqual(['UNAUTHENTICATED']);
      expect(stale).toHaveBeenCalledTimes(1);
    } finally {
      stale.mockRestore();
    }
    const [row] = await t.db.query('SELECT locked_until > now() AS locked FROM account WHERE id = $1', [account.id]);
    expect(row.locked).toBe(true);
  });

  it('neither lengthens a lock nor raises it again for wrong passwords checked against the account as read before it locked', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    const repo = t.app.services.db.getRepository(Account);
    // The account as read by attempts that began before the failures below locked it.
    const before = await repo.findOneByOrFail({ id: account.id });
    for (let i = 0; i < 3; i++) await loginFrom('198.51.100.10', Channel.LGWAN, account.loginId, 'wrong-password!');
    const [locked] = await t.db.query('SELECT locked_until FROM account WHERE id = $1', [account.id]);
    const stale = jest.spyOn(repo, 'findOneBy');
    for (let i = 0; i < 3; i++) stale.mockResolvedValueOnce(before);
    try {
      for (let i = 0; i < 3; i++) expect(codes(await loginFrom('198.51.100.10', Channel.LGWAN, account.loginId, 'wrong-password!'))).toEqual(['UNAUTHENTICATED']);
      expect(stale).toHaveBeenCalledTimes(3);
    } finally {
      stale.mockRestore();
    }
    // Refused as attempts during the lock are, and not counted: the lock ends when it would have, with no failures left over.
    expect(await t.db.query('SELECT failed_login_count, locked_until FROM account WHERE id = $1', [account.id])).toEqual([{ failed_login_count: 0, locked_until: locked.locked_until }]);
    expect(await t.db.query(`SELECT kind FROM security_alert WHERE actor_id = $1`, [account.id])).toEqual([{ kind: 'ACCOUNT_LOCKED' }]);
    // The alert is one JSON line of the log too, for whatever watches it, naming the login that raised it.
    expect(t.log.entries.filter((e) => e.event === 'security_alert' && e.actorId === account.id)).toEqual([expect.objectContaining({
      level: 'warn', kind: 'ACCOUNT_LOCKED', municipalityCode: null, sourceAddress: '198.51.100.10', operation: 'mutation login',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), detail: expect.any(String), time: expect.any(String),
    })]);
    const events = await t.db.query(`SELECT outcome FROM audit_event WHERE operation = 'login' AND $1 = ANY(target_ids) ORDER BY id`, [account.id]);
    expect(events.map((e: { outcome: string }) => e.outcome)).toEqual(['FAILURE', 'FAILURE', 'FAILURE', 'DENIED', 'DENIED', 'DENIED']);
  });

  it('a good login resets the failure count', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    for (let i = 0; i < 2; i++) await t.login(Channel.LGWAN, account.loginId, 'wrong-password!');
    expect(codes(await t.login(Channel.LGWAN, account.loginId))).toEqual([]);
    for (let i = 0; i < 2; i++) await t.login(Channel.LGWAN, account.loginId, 'wrong-password!');
    expect(codes(await t.login(Channel.LGWAN, account.loginId))).toEqual([]);
  });

  it('stores passwords as Argon2id hashes', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    const [row] = await t.db.query('SELECT password_hash FROM account WHERE id = $1', [account.id]);
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('refuses forged and garbage tokens', async () => {
    const { officer } = await t.tenant();
    const [header, payload] = officer.token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('forged').toString('base64url')}`;
    for (const token of [forged, 'garbage', '']) {
      expect(codes(await t.request(Channel.LGWAN, '{ residents { nodes { id } } }', {}, token))).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('refuses a validly signed token whose subject is not an account id, as any bad token', async () => {
    const signer = new TokenSigner(TOKEN_SECRET, 900);
    const { officer } = await t.tenant();
    // The key is the app's: a token naming the officer works, so only the subject can be at fault below.
    const genuine = await signer.sign({ accountId: officer.accountId, channel: Channel.LGWAN, passwordVersion: 0 });
    expect(codes(await t.request(Channel.LGWAN, '{ viewer { role } }', {}, genuine))).toEqual([]);
    for (const subject of ['x', '', '1', `${officer.accountId}x`, '00000000-0000-4000-8000-000000000000']) {
      const token = await signer.sign({ accountId: subject, channel: Channel.LGWAN, passwordVersion: 0 });
      const answer = await t.request(Channel.LGWAN, '{ viewer { role } }', {}, token);
      expect([subject, codes(answer)]).toEqual([subject, ['UNAUTHENTICATED']]);
      const csv = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${token}` } });
      expect([subject, csv.status]).toEqual([subject, 401]);
      await csv.text();
    }
  });

  it('stops a locked account\'s tokens at once, however the lock came, until the lock ends', async () => {
    const { officer } = await t.tenant();
    await registerResident(officer);
    const READ = '{ residents { nodes { myNumber } } }';
    expect(codes(await officer.gql(READ))).toEqual([]);
    // Guessing the current password with the token in hand locks the account, and the token with it.
    const CHANGE = 'mutation($c: String!) { changePassword(currentPassword: $c, newPassword: "a-new-password-1") { userErrors { code } } }';
    for (let i = 0; i < 3; i++) expect((await officer.gql(CHANGE, { c: `wrong-password-${i}` })).data.changePassword.userErrors[0].code).toBe('PASSWORD_INCORRECT');
    expect(codes(await officer.gql(READ))).toEqual(['UNAUTHENTICATED']);
    const csv = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` } });
    expect(csv.status).toBe(401);
    await csv.text();
    // The lock over, the token (still unexpired, password unchanged) works again.
    await t.db.query(`UPDATE account SET locked_until = now() - interval '1 second' WHERE id = $1`, [officer.accountId]);
    expect(codes(await officer.gql(READ))).toEqual([]);

    // Failed logins from anywhere lock it the same way.
    for (let i = 0; i < 3; i++) expect(codes(await loginFrom('198.51.100.9', Channel.LGWAN, officer.loginId, 'wrong-password!'))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await officer.gql(READ))).toEqual(['UNAUTHENTICATED']);
  });

  it('judges a lock on the database\'s clock, which set it, whatever the clock of the server asked', async () => {
    const { officer } = await t.tenant();
    const READ = '{ viewer { role } }';
    const CHANGE = 'mutation($c: String!) { changePassword(currentPassword: $c, newPassword: "a-new-password-1") { userErrors { code } } }';
    for (let i = 0; i < 3; i++) await loginFrom('198.51.100.11', Channel.LGWAN, officer.loginId, 'wrong-password!');
    // Behind a load balancer, servers' clocks may run minutes apart from the database's.
    for (const skew of [-5 * 60_000, 5 * 60_000]) {
      // The lock ends in two minutes: the login, the token and the password change are refused on every server.
      await t.db.query(`UPDATE account SET locked_until = now() + interval '2 minutes' WHERE id = $1`, [officer.accountId]);
      expect([skew, codes(await onServerOff(skew, () => loginFrom('198.51.100.12', Channel.LGWAN, officer.loginId, PASSWORD)))]).toEqual([skew, ['UNAUTHENTICATED']]);
      expect([skew, codes(await onServerOff(skew, () => officer.gql(READ)))]).toEqual([skew, ['UNAUTHENTICATED']]);
      expect([skew, codes(await onServerOff(skew, () => officer.gql(CHANGE, { c: PASSWORD })))]).toEqual([skew, ['UNAUTHENTICATED']]);
      // It ended two minutes ago: the token works and the right password signs in on every server.
      await t.db.query(`UPDATE account SET locked_until = now() - interval '2 minutes' WHERE id = $1`, [officer.accountId]);
      expect([skew, codes(await onServerOff(skew, () => officer.gql(READ)))]).toEqual([skew, []]);
      expect([skew, codes(await onServerOff(skew, () => loginFrom('198.51.100.12', Channel.LGWAN, officer.loginId, PASSWORD)))]).toEqual([skew, []]);
    }
    const events = await t.db.query(`SELECT outcome FROM audit_event WHERE operation = 'login' AND $1 = ANY(target_ids) ORDER BY id`, [officer.accountId]);
    // The session's own login, then the three failures, then a refusal and a sign-in on each server.
    expect(events.map((e: { outcome: string }) => e.outcome)).toEqual(['SUCCESS', 'FAILURE', 'FAILURE', 'FAILURE', 'DENIED', 'SUCCESS', 'DENIED', 'SUCCESS']);
  });
});

describe('accounts', () => {
  const CREATE = `mutation($input: CreateAccountInput!) {
    createAccount(input: $input) { account { id loginId role municipalityCode } userErrors { field code message } }
  }`;

  it('the operator creates an account that can then sign in', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const code = await t.createMunicipality();
    const input = { loginId: `new-officer-${Date.now()}`, password: 'a-long-password', role: 'MUNICIPALITY', displayName: 'New officer', municipalityCode: code };
    const result = await operator.gql(CREATE, { input });
    expect(result.data.createAccount).toMatchObject({ account: { loginId: input.loginId, role: 'MUNICIPALITY', municipalityCode: code }, userErrors: [] });
    expect(codes(await t.login(Channel.LGWAN, input.loginId, 'a-long-password'))).toEqual([]);
    const again = await operator.gql(CREATE, { input });
    expect(again.data.createAccount.userErrors).toEqual([{ field: ['input', 'loginId'], code: 'DUPLICATE', message: 'is already taken' }]);
    // A ward (横浜市鶴見区) is no municipality of its own: its officers are its designated city's.
    const ward = await operator.gql(CREATE, { input: { ...input, loginId: `ward-officer-${Date.now()}`, municipalityCode: '141011' } });
    expect(ward.data.createAccount).toEqual({ account: null, userErrors: [{ field: ['input', 'municipalityCode'], code: 'UNKNOWN_MUNICIPALITY', message: 'is a ward of the designated city 141003, which is one municipality: give the city\'s code' }] });
  });

  it('holds one account per login ID whatever the case of its letters, and signs it in however they are typed', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const loginId = `Case-Officer-${Date.now()}`;
    const input = { loginId, password: 'a-long-password', role: 'NATIONAL', displayName: 'Case officer' };
    const made = (await operator.gql(CREATE, { input })).data.createAccount;
    expect(made.userErrors).toEqual([]);
    for (const lookAlike of [loginId.toLowerCase(), loginId.toUpperCase()]) {
      const again = await operator.gql(CREATE, { input: { ...input, loginId: lookAlike, displayName: 'Look-alike' } });
      expect(again.data.createAccount).toEqual({ account: null, userErrors: [{ field: ['input', 'loginId'], code: 'DUPLICATE', message: 'is already taken' }] });
    }
    expect(await t.db.query('SELECT login_id FROM account WHERE lower(login_id) = lower($1)', [loginId])).toEqual([{ login_id: loginId }]);
    // The login ID keeps the letters the operator gave it; an auto-capitalised or lower-case one signs the same account in.
    for (const typed of [loginId, loginId.toLowerCase(), loginId.toUpperCase()]) {
      const signedIn = await t.request(Channel.LGWAN, 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { viewer { accountId } } }', { l: typed, p: 'a-long-password' });
      expect(signedIn).toEqual({ data: { login: { viewer: { accountId: made.account.id } } } });
    }
  });

  it('names each bad field: municipality code check digit, short password, scope that does not fit the role', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const result = await operator.gql(CREATE, {
      input: { loginId: 'x', password: 'short', role: 'MUNICIPALITY', displayName: 'x', municipalityCode: '131017', prefectureCode: '13' },
    });
    expect(result.data.createAccount.account).toBeNull();
    expect(result.data.createAccount.userErrors).toEqual([
      { field: ['input', 'loginId'], code: 'INVALID_FORMAT', message: expect.any(String) },
      { field: ['input', 'password'], code: 'INVALID_FORMAT', message: 'must be at least 12 characters' },
      { field: ['input', 'municipalityCode'], code: 'INVALID_CHECK_DIGIT', message: expect.stringContaining('check digit') },
      { field: ['input', 'prefectureCode'], code: 'INVALID_STATE', message: 'must be empty for MUNICIPALITY accounts' },
    ]);
    const named = await operator.gql(CREATE, { input: { loginId: `named-${Date.now()}`, password: 'a-long-password', role: 'NATIONAL', displayName: 'a\u0007b' } });
    expect(named.data.createAccount.userErrors).toEqual([{ field: ['input', 'displayName'], code: 'INVALID_FORMAT', message: 'must not hold control characters' }]);
    const long = await operator.gql(CREATE, { input: { loginId: `long-${Date.now()}`, password: 'a-long-password', role: 'NATIONAL', displayName: 'x'.repeat(101) } });
    expect(long.data.createAccount.userErrors).toEqual([{ field: ['input', 'displayName'], code: 'INVALID_FORMAT', message: 'must be at most 100 characters' }]);
    // C1 controls (NEL, say) are no more text anyone typed than C0 ones.
    const nel = await operator.gql(CREATE, { input: { loginId: `nel-${Date.now()}`, password: 'a-long-password', role: 'NATIONAL', displayName: 'a\u0085b' } });
    expect(nel.data.createAccount.userErrors).toEqual([{ field: ['input', 'displayName'], code: 'INVALID_FORMAT', message: 'must not hold control characters' }]);
  });

  it('counts a display name and a password in characters, as the database does: 𠮷 is one', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const named = await operator.gql(CREATE, { input: { loginId: `kanji-${Date.now()}`, password: 'a-long-password', role: 'NATIONAL', displayName: '𠮷'.repeat(100) } });
    expect(named.data.createAccount.userErrors).toEqual([]);
    expect((await t.db.query('SELECT display_name FROM account WHERE id = $1', [named.data.createAccount.account.id]))[0].display_name).toBe('𠮷'.repeat(100));
    const tooLong = await operator.gql(CREATE, { input: { loginId: `kanji-long-${Date.now()}`, password: 'a-long-password', role: 'NATIONAL', displayName: '𠮷'.repeat(101) } });
    expect(tooLong.data.createAccount.userErrors).toEqual([{ field: ['input', 'displayName'], code: 'INVALID_FORMAT', message: 'must be at most 100 characters' }]);
    // Six characters are not twelve, whatever their UTF-16 length: at creation, at a reset and at a change alike.
    const SHORT = { code: 'INVALID_FORMAT', message: 'must be at least 12 characters' };
    const short = await operator.gql(CREATE, { input: { loginId: `short-${Date.now()}`, password: '𠮷'.repeat(6), role: 'NATIONAL', displayName: 'x' } });
    expect(short.data.createAccount.userErrors).toEqual([{ field: ['input', 'password'], ...SHORT }]);
    const holder = await t.session(Role.NATIONAL, Channel.LGWAN);
    const reset = await operator.gql('mutation($id: ID!, $p: String!) { resetAccountPassword(id: $id, temporaryPassword: $p) { userErrors { field code message } } }', { id: holder.accountId, p: '😷'.repeat(11) });
    expect(reset.data.resetAccountPassword.userErrors).toEqual([{ field: ['temporaryPassword'], ...SHORT }]);
    const change = await holder.gql('mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { userErrors { field code message } } }', { c: PASSWORD, n: '𠮷'.repeat(6) });
    expect(change.data.changePassword.userErrors).toEqual([{ field: ['newPassword'], ...SHORT }]);
    expect(codes(await t.login(Channel.LGWAN, holder.loginId))).toEqual([]);
    const kanji = await operator.gql(CREATE, { input: { loginId: `kanji-pw-${Date.now()}`, password: '𠮷'.repeat(12), role: 'NATIONAL', displayName: 'x' } });
    expect(kanji.data.createAccount.userErrors).toEqual([]);
    expect(codes(await t.login(Channel.LGWAN, kanji.data.createAccount.account.loginId, '𠮷'.repeat(12)))).toEqual([]);
  });

  it('refuses a password over 256 characters wherever one is set, naming the field, and takes 256 beyond the BMP', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const holder = await t.session(Role.NATIONAL, Channel.LGWAN);
    const RESET = 'mutation($id: ID!, $p: String!) { resetAccountPassword(id: $id, temporaryPassword: $p) { userErrors { field code message } } }';
    const CHANGE = 'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { userErrors { field code message } } }';
    const LONG = { code: 'INVALID_FORMAT', message: 'must be at most 256 characters' };
    for (const long of ['x'.repeat(257), '𠮷'.repeat(257)]) {
      const created = await operator.gql(CREATE, { input: { loginId: `long-pw-${Date.now()}`, password: long, role: 'NATIONAL', displayName: 'x' } });
      expect(created.data.createAccount.userErrors).toEqual([{ field: ['input', 'password'], ...LONG }]);
      expect((await operator.gql(RESET, { id: holder.accountId, p: long })).data.resetAccountPassword.userErrors).toEqual([{ field: ['temporaryPassword'], ...LONG }]);
      expect((await holder.gql(CHANGE, { c: PASSWORD, n: long })).data.changePassword.userErrors).toEqual([{ field: ['newPassword'], ...LONG }]);
    }
    expect(codes(await t.login(Channel.LGWAN, holder.loginId))).toEqual([]);
    // A current password longer than may be set is simply not the account's.
    expect((await holder.gql(CHANGE, { c: 'x'.repeat(257), n: 'a-new-long-password' })).data.changePassword.userErrors)
      .toEqual([{ field: ['currentPassword'], code: 'PASSWORD_INCORRECT', message: 'is incorrect, or the account is locked' }]);
    expect((await t.db.query('SELECT failed_login_count FROM account WHERE id = $1', [holder.accountId]))[0].failed_login_count).toBe(1);
    const longest = await operator.gql(CREATE, { input: { loginId: `longest-pw-${Date.now()}`, password: '𠮷'.repeat(256), role: 'NATIONAL', displayName: 'x' } });
    expect(longest.data.createAccount.userErrors).toEqual([]);
    expect(codes(await t.login(Channel.LGWAN, longest.data.createAccount.account.loginId, '𠮷'.repeat(256)))).toEqual([]);
  });

  it('a disabled account is refused at login and its live token stops working', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const { officer } = await t.tenant();
    expect(codes(await officer.gql(VIEWER))).toEqual([]);
    const result = await operator.gql('mutation($id: ID!) { disableAccount(id: $id) { account { disabledAt } userErrors { code } } }', { id: officer.accountId });
    expect(result.data.disableAccount.account.disabledAt).not.toBeNull();
    expect(codes(await officer.gql('{ residents { nodes { id } } }'))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.login(Channel.LGWAN, officer.loginId))).toEqual(['UNAUTHENTICATED']);
  });

  it('only the operator manages accounts', async () => {
    const { officer } = await t.tenant();
    const result = await officer.gql('mutation($id: ID!) { disableAccount(id: $id) { userErrors { code } } }', { id: officer.accountId });
    expect(codes(result)).toEqual(['FORBIDDEN']);
    expect(codes(await officer.gql('{ accounts { nodes { id } } }'))).toEqual(['FORBIDDEN']);
  });
});

describe('health', () => {
  it.each([Channel.INTERNET, Channel.LGWAN])('answers /healthz and /readyz on the %s listener', async (channel) => {
    const base = t.url(channel).replace('/graphql', '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('answers /readyz 503 when the database refuses, and within seconds when it does not answer at all', async () => {
    const base = t.url(Channel.LGWAN).replace('/graphql', '');
    // A port nothing listens on, then a server that takes the connection and never answers.
    const server = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const database = jest.replaceProperty(t.app.services, 'db', createDataSource(`postgres://vrs:secret@127.0.0.1:${port}/vrs`));
    try {
      const refused = await fetch(`${base}/readyz`);
      expect({ status: refused.status, body: await refused.json() }).toEqual({ status: 503, body: { status: 'database unavailable' } });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      const silent = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
      expect({ status: silent.status, body: await silent.json() }).toEqual({ status: 503, body: { status: 'database not answering' } });
    } finally {
      database.restore();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    }
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});
