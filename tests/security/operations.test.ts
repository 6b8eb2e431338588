import { contextFor, finishRequest } from '../../src/context';
import { Channel, Role } from '../../src/schema/enums';
import { PlatformFunction } from '../../src/entities/function-suspension.entity';
import { createLog } from '../../src/log';
import { IntrusionDetector } from '../../src/services/intrusion.service';
import { RESUME, SUSPEND } from '../helpers/operations';
import { baseUrl, importFile, randomMyNumber, registryCsv, registryRow, upload } from '../helpers/registry-csv';
import { randomUUID } from 'node:crypto';
import { blockedBy, codes, LogLines, registerResident, Session, TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const ALERTS = 'query($a: String) { securityAlerts(filter: { actorId: $a }) { kind actorId municipalityCode sourceAddress detail } }';

describe('emergency stop', () => {
  it('the operator stops a function for one municipality and resumes it; the state is in the database', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const code = await t.createMunicipality();
    const other = await t.createMunicipality();
    const stopped = await operator.gql(SUSPEND, { f: 'EXPORT', m: code, r: 'data leak under investigation' });
    expect(stopped.data.suspendFunction).toMatchObject({ suspension: { function: 'EXPORT', municipalityCode: code }, userErrors: [] });

    // A fresh service instance (as after a restart) sees the same state.
    const restarted = await TestApp.start();
    try {
      await expect(restarted.app.services.suspensions.assertAvailable(restarted.db.manager, PlatformFunction.EXPORT, code)).rejects.toMatchObject({
        extensions: { code: 'FUNCTION_SUSPENDED', function: 'EXPORT' },
      });
      await expect(restarted.app.services.suspensions.assertAvailable(restarted.db.manager, PlatformFunction.EXPORT, other)).resolves.toBeUndefined();
      await expect(restarted.app.services.suspensions.assertAvailable(restarted.db.manager, PlatformFunction.IMPORT, code)).resolves.toBeUndefined();
    } finally {
      await restarted.stop();
    }
    const twice = await operator.gql(SUSPEND, { f: 'EXPORT', m: code, r: 'again' });
    expect(twice.data.suspendFunction.userErrors).toEqual([{ field: ['function'], code: 'DUPLICATE', message: 'is already suspended for this scope' }]);

    expect((await operator.gql(RESUME, { f: 'EXPORT', m: code })).data.resumeFunction.userErrors).toEqual([]);
    await expect(t.app.services.suspensions.assertAvailable(t.db.manager, PlatformFunction.EXPORT, code)).resolves.toBeUndefined();
    const events = await t.db.query(`SELECT operation FROM audit_event WHERE municipality_code = $1 AND operation LIKE '%.EXPORT' ORDER BY id`, [code]);
    expect(events.map((e: { operation: string }) => e.operation)).toEqual(['suspend.EXPORT', 'resume.EXPORT']);
  });

  it('a platform-wide stop applies to every municipality', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const code = await t.createMunicipality();
    await operator.gql(SUSPEND, { f: 'CERTIFICATE_ISSUANCE', r: 'signing key compromised' });
    try {
      await expect(t.app.services.suspensions.assertAvailable(t.db.manager, PlatformFunction.CERTIFICATE_ISSUANCE, code)).rejects.toMatchObject({ extensions: { code: 'FUNCTION_SUSPENDED' } });
    } finally {
      await operator.gql(RESUME, { f: 'CERTIFICATE_ISSUANCE' });
    }
  });

  it('lifts a stop once when two operators lift it at the same moment: the second is told it is not suspended', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const code = await t.createMunicipality();
    const another = await t.session(Role.OPERATOR, Channel.LGWAN);
    const { suspension } = (await operator.gql(SUSPEND, { f: 'EXPORT', m: code, r: 'data leak under investigation' })).data.suspendFunction;
    // The test holds the stop's row, so that both lifts are under way before either removes it.
    const holder = t.db.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    let answers;
    try {
      await holder.query('SELECT FROM function_suspension WHERE id = $1 FOR UPDATE', [suspension.id]);
      const lifts = [operator, another].map((each) => each.gql(RESUME, { f: 'EXPORT', m: code }));
      await blockedBy(t.db, holder, '%function_suspension%', 2);
      await holder.rollbackTransaction();
      answers = (await Promise.all(lifts)).map((a) => a.data.resumeFunction);
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
    expect(answers).toEqual(expect.arrayContaining([
      { resumedSuspensionId: suspension.id, userErrors: [] },
      { resumedSuspensionId: null, userErrors: [{ field: ['function'], code: 'NOT_FOUND' }] },
    ]));
    const events = await t.db.query(`SELECT operation FROM audit_event WHERE municipality_code = $1 AND operation LIKE '%.EXPORT' ORDER BY id`, [code]);
    expect(events.map((e: { operation: string }) => e.operation)).toEqual(['suspend.EXPORT', 'resume.EXPORT']);
  });

  it('checks its input and is the operator\'s alone', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const bad = await operator.gql(SUSPEND, { f: 'IMPORT', m: '131017', r: ' ' });
    // Both arguments' problems are named at once, in the schema's order.
    expect(bad.data.suspendFunction.userErrors).toEqual([
      { field: ['municipalityCode'], code: 'INVALID_CHECK_DIGIT', message: expect.any(String) },
      { field: ['reason'], code: 'REQUIRED', message: 'must not be empty' },
    ]);
    expect((await operator.gql(SUSPEND, { f: 'IMPORT', m: '479993', r: 'x'.repeat(501) })).data.suspendFunction.userErrors).toEqual([
      { field: ['municipalityCode'], code: 'UNKNOWN_MUNICIPALITY', message: 'is not a municipality in the national list' },
      { field: ['reason'], code: 'INVALID_FORMAT', message: 'must be at most 500 characters' },
    ]);
    expect((await operator.gql(RESUME, { f: 'IMPORT' })).data.resumeFunction.userErrors).toEqual([{ field: ['function'], code: 'NOT_FOUND' }]);
    // A ward (横浜市鶴見区) is in the national list, but no municipality of its own: the operator is told the city's code.
    const ward = [{ field: ['municipalityCode'], code: 'UNKNOWN_MUNICIPALITY', message: 'is a ward of the designated city 141003, which is one municipality: give the city\'s code' }];
    expect((await operator.gql(SUSPEND, { f: 'IMPORT', m: '141011', r: 'site tablet stolen' })).data.suspendFunction.userErrors).toEqual(ward);
    expect((await operator.gql(RESUME, { f: 'IMPORT', m: '１４１０１１' })).data.resumeFunction.userErrors).toEqual([{ field: ['municipalityCode'], code: 'UNKNOWN_MUNICIPALITY' }]);
    // A blank code is a mistake, not the whole country; a reason is plain text, refused too long rather than cut.
    expect((await operator.gql(SUSPEND, { f: 'IMPORT', m: '', r: 'x' })).data.suspendFunction.userErrors).toEqual([{ field: ['municipalityCode'], code: 'INVALID_FORMAT', message: expect.any(String) }]);
    expect((await operator.gql(RESUME, { f: 'IMPORT', m: '' })).data.resumeFunction.userErrors).toEqual([{ field: ['municipalityCode'], code: 'INVALID_FORMAT' }]);
    expect((await operator.gql(SUSPEND, { f: 'IMPORT', m: '131016', r: 'x'.repeat(501) })).data.suspendFunction.userErrors)
      .toEqual([{ field: ['reason'], code: 'INVALID_FORMAT', message: 'must be at most 500 characters' }]);
    expect(await t.db.query(`SELECT 1 FROM function_suspension WHERE function = 'IMPORT' AND (municipality_code IS NULL OR municipality_code = '131016')`)).toEqual([]);
    const { officer } = await t.tenant();
    expect(codes(await officer.gql(SUSPEND, { f: 'IMPORT', m: officer.municipalityCode, r: 'x' }))).toEqual(['FORBIDDEN']);
    expect(codes(await officer.gql('{ functionSuspensions { id } }'))).toEqual(['FORBIDDEN']);
  });
});

describe('intrusion detection', () => {
  it('throttles an address after repeated failed logins and raises an alert', async () => {
    const app = await TestApp.start();
    try {
      const account = await app.createAccount(Role.OPERATOR);
      for (let i = 0; i < 20; i++) await app.login(Channel.LGWAN, `unknown-${i}`, 'wrong-password');
      // Even the right password of a healthy account is refused from that address now.
      expect(codes(await app.login(Channel.LGWAN, account.loginId))).toEqual(['UNAUTHENTICATED']);
      // So is a brand-new account on its own channel: the throttle is by address, not by account.
      const fresh = await app.session(Role.OPERATOR, Channel.LGWAN).catch((e: Error) => e);
      expect(fresh).toBeInstanceOf(Error);
      // From another address the same account signs in.
      expect(codes(await t.login(Channel.LGWAN, account.loginId))).toEqual([]);
      // Other test files raise alerts meanwhile: the address's own are read, not the newest of all.
      const alerts = await app.db.query(`SELECT kind FROM security_alert WHERE source_address = $1`, [app.address]);
      expect(alerts).toEqual([{ kind: 'LOGIN_THROTTLED' }]);
      // The alert records the throttling; the refused attempts, which cost no password hash, add no log lines.
      expect(await app.db.query(`SELECT 1 FROM audit_event WHERE operation LIKE 'login.throttled%'`)).toEqual([]);
    } finally {
      await app.stop();
    }
  });

  it('lets no more failed logins through than the limit when they are sent at once', async () => {
    const app = await TestApp.start();
    try {
      const account = await app.createAccount(Role.OPERATOR);
      const answers = await Promise.all(Array.from({ length: 30 }, () => app.login(Channel.LGWAN, account.loginId, 'wrong-password')));
      expect(new Set(answers.map((a) => codes(a)[0]))).toEqual(new Set(['UNAUTHENTICATED']));
      // Only the first twenty reached the account (and its lockout); the throttle refused the rest.
      const [{ checked }] = await app.db.query(`SELECT count(*)::int AS checked FROM audit_event WHERE operation = 'login' AND target_ids = ARRAY[$1]`, [account.id]);
      expect(checked).toBe(20);
      const alerts = await app.db.query(`SELECT kind FROM security_alert WHERE kind = 'LOGIN_THROTTLED' AND source_address = $1`, [app.address]);
      expect(alerts).toEqual([{ kind: 'LOGIN_THROTTLED' }]);
    } finally {
      await app.stop();
    }
  });

  it('alerts once for an address kept at the throttle\'s limit, however many failures the throttle lets through as old ones leave the window', async () => {
    const app = await TestApp.start();
    const throttled = () => app.db.query(`SELECT kind FROM security_alert WHERE kind = 'LOGIN_THROTTLED' AND source_address = $1`, [app.address]);
    /** The oldest of the address's failures (listed newest first) and of its reaches of the limit fall out of the window. */
    const ageOldest = (key: string) =>
      app.db.query(`UPDATE detection_window SET events[cardinality(events)] = now() - interval '16 minutes' WHERE key = $1`, [`${key}:${app.address}`]);
    try {
      for (let i = 0; i < 20; i++) await app.login(Channel.LGWAN, `unknown-${i}`, 'wrong-password');
      expect(await throttled()).toEqual([{ kind: 'LOGIN_THROTTLED' }]);
      // Still hammering: each failure that leaves the window lets one more attempt through, which fails and reaches the limit again.
      for (let i = 0; i < 3; i++) {
        await ageOldest('login');
        expect(codes(await app.login(Channel.LGWAN, `unknown-again-${i}`, 'wrong-password'))).toEqual(['UNAUTHENTICATED']);
        expect(await app.db.query(`SELECT cardinality(events) AS n FROM detection_window WHERE key = $1`, [`login:${app.address}`])).toEqual([{ n: 20 }]);
      }
      expect(await throttled()).toEqual([{ kind: 'LOGIN_THROTTLED' }]);
      // Back after a whole window without reaching the limit: a new run, alerted anew.
      await app.db.query(`UPDATE detection_window SET events = ARRAY[now() - interval '16 minutes'] WHERE key = $1`, [`login-throttled:${app.address}`]);
      await ageOldest('login');
      await app.login(Channel.LGWAN, 'unknown-later', 'wrong-password');
      expect(await throttled()).toEqual([{ kind: 'LOGIN_THROTTLED' }, { kind: 'LOGIN_THROTTLED' }]);
    } finally {
      await app.stop();
    }
  });

  it('counts the events of every API process sharing the database, and alerts once', async () => {
    const { code, officer } = await t.tenant();
    // A second process with the same configuration, as behind a load balancer.
    const { masterKey, tokenSecret } = t.app.services.config;
    const other = await TestApp.start({ masterKey, tokenSecret });
    try {
      const there = other.sessionFor(officer.token, Channel.LGWAN, { id: officer.accountId, loginId: officer.loginId }, code);
      // Ten refusals in each process, at once: neither alone reaches the limit of twenty.
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? officer : there).gql('{ accounts { nodes { id } } }')));
      expect(new Set(answers.map((a) => codes(a)[0]))).toEqual(new Set(['FORBIDDEN']));
      const alerts = await t.db.query(`SELECT kind FROM security_alert WHERE actor_id = $1`, [officer.accountId]);
      expect(alerts).toEqual([{ kind: 'REPEATED_DENIALS' }]);
    } finally {
      await other.stop();
    }
  });

  it('sweeps the keys whose events have all left the window', async () => {
    const stale = `test:stale:${t.address}`;
    const recent = `test:recent:${t.address}`;
    await t.db.query(
      `INSERT INTO detection_window (key, events) VALUES ($1, ARRAY[now() - interval '16 minutes', now() - interval '20 minutes']),
         ($2, ARRAY[now() - interval '20 minutes', now() - interval '1 minute'])`,
      [stale, recent],
    );
    expect(await t.app.services.detector.sweep()).toBeGreaterThanOrEqual(1);
    const left = await t.db.query(`SELECT key FROM detection_window WHERE key IN ($1, $2)`, [stale, recent]);
    expect(left).toEqual([{ key: recent }]);
  });

  it('counts nothing once closed by a stopping server, saying so, and opens no connection again', async () => {
    const stopping = 'intrusion detection\'s connections are closed: the server is stopping; the event was not counted';
    const used = new IntrusionDetector(t.db, createLog('info', new LogLines()));
    expect(await used.loginStarted(t.address)).toBeGreaterThanOrEqual(1);
    await used.close();
    // A request still running after the server's grace, counting a failed login.
    await expect(used.loginStarted(t.address)).rejects.toThrow(stopping);
    const unused = new IntrusionDetector(t.db, createLog('info', new LogLines()));
    await unused.close();
    await expect(unused.loginStarted(t.address)).rejects.toThrow(stopping);
    expect((unused as unknown as { pool: unknown }).pool).toBeNull();
  });

  it('takes the client address from X-Forwarded-For only when a trusted proxy sent it', async () => {
    const lockedFrom = async (app: TestApp) => {
      const account = await app.createAccount(Role.OPERATOR);
      for (let i = 0; i < 5; i++) await app.login(Channel.LGWAN, account.loginId, 'wrong-password!');
      const [alert] = await app.db.query(`SELECT source_address FROM security_alert WHERE kind = 'ACCOUNT_LOCKED' AND actor_id = $1`, [account.id]);
      return alert?.source_address;
    };
    expect(await lockedFrom(t)).toBe(t.address);
    // Without trusted proxies the header is the client's own claim, and ignored.
    const direct = await TestApp.start({ trustedProxies: [] });
    try {
      expect(await lockedFrom(direct)).toBe('127.0.0.1');
    } finally {
      await direct.stop();
    }
  });

  it('raises an alert for an account that keeps being refused, visible to the operator', async () => {
    const { officer } = await t.tenant();
    for (let i = 0; i < 20; i++) expect(codes(await officer.gql('{ accounts { nodes { id } } }'))).toEqual(['FORBIDDEN']);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const alerts = (await operator.gql(ALERTS, { a: officer.accountId })).data.securityAlerts;
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'REPEATED_DENIALS', actorId: officer.accountId, municipalityCode: officer.municipalityCode }));
    expect(codes(await officer.gql(ALERTS, { a: officer.accountId }))).toEqual(['FORBIDDEN']);
  });

  it('counts a request once towards the account\'s refusals, however many of its fields were refused', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 21; i++) await registerResident(officer);
    const denials = async (accountId: string) => (await t.db.query(
      `SELECT (SELECT cardinality(events) FROM detection_window WHERE key = $1) AS counted, (SELECT count(*)::int FROM security_alert WHERE actor_id = $2) AS alerts`,
      [`denied:${accountId}`, accountId],
    ))[0];
    // A page of residents asked with My Number on the internet channel: each one's number is refused, the request once.
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    const page = await internet.gql('{ residents(first: 50) { nodes { id myNumber } } }');
    expect(page.data.residents.nodes).toHaveLength(21);
    expect(codes(page)).toEqual(Array(21).fill('FORBIDDEN'));
    expect(await denials(internet.accountId)).toEqual({ counted: 1, alerts: 0 });
    // A change naming twenty rows the caller cannot find, beside a refused field: once too.
    const ISSUE = `mutation($input: IssueTicketsInput!) {
      issueTickets(input: $input) { userErrors { code } }
      createAccount(input: { loginId: "denied-officer", role: MUNICIPALITY, displayName: "d", password: "long enough password 1" }) { userErrors { code } }
    }`;
    const missed = await officer.gql(ISSUE, { input: { series: '1-2', tickets: Array.from({ length: 20 }, () => ({ residentId: randomUUID() })) } });
    expect(codes(missed)).toEqual(['FORBIDDEN']);
    expect(await denials(officer.accountId)).toEqual({ counted: 1, alerts: 0 });
    // Refused requests still add up to the alert.
    for (let i = 1; i < 20; i++) expect(codes(await internet.gql('{ residents(first: 50) { nodes { myNumber } } }'))).toHaveLength(21);
    expect(await denials(internet.accountId)).toEqual({ counted: 20, alerts: 1 });
  });

  it('counts refusals on the CSV routes towards the same alert', async () => {
    const prefecture = await t.session(Role.PREFECTURE, Channel.LGWAN, { prefectureCode: '13' });
    const refusals = [];
    for (let i = 0; i < 10; i++) {
      refusals.push((await upload(t, prefecture, registryCsv([registryRow()]))).status);
      const exported = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${prefecture.token}` } });
      await exported.text();
      refusals.push(exported.status);
    }
    expect(new Set(refusals)).toEqual(new Set([403]));
    const alerts = await t.db.query(`SELECT kind FROM security_alert WHERE actor_id = $1`, [prefecture.accountId]);
    expect(alerts).toEqual([{ kind: 'REPEATED_DENIALS' }]);
  });

  it('pages alerts within 1..500 and gives the lists to the operator alone, even past the shield', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    for (const first of [0, 501]) {
      const refused = await operator.gql(`{ securityAlerts(first: ${first}) { kind } }`);
      expect(refused.errors?.[0]).toMatchObject({ message: 'first: must be between 1 and 500', extensions: { code: 'BAD_USER_INPUT', field: ['first'] } });
    }
    await t.app.services.detector.accountLocked(operator.accountId, null, 'test');
    await t.app.services.detector.accountLocked(operator.accountId, null, 'test');
    // Other test files raise alerts meanwhile: a page of one is the newer of this account's two, not the newest of all.
    const [{ newer }] = await t.db.query(`SELECT max(id)::text AS newer FROM security_alert WHERE actor_id = $1`, [operator.accountId]);
    const one = await operator.gql('query($a: String) { securityAlerts(filter: { actorId: $a }, first: 1) { id kind } }', { a: operator.accountId });
    expect(one.data.securityAlerts).toEqual([{ id: newer, kind: 'ACCOUNT_LOCKED' }]);
    const { code } = await t.tenant();
    // There is a suspension, an alert and an account for the lists to leave out.
    expect((await operator.gql(SUSPEND, { f: 'EXPORT', m: code, r: 'audit of the export' })).data.suspendFunction.userErrors).toEqual([]);
    expect((await operator.gql('{ functionSuspensions { municipalityCode } }')).data.functionSuspensions).toContainEqual({ municipalityCode: code });
    const actor = { accountId: '00000000-0000-4000-8000-000000000001', role: Role.MUNICIPALITY, municipalityCode: code, prefectureCode: null, channel: Channel.LGWAN };
    const ctx = contextFor(t.app.services, actor, { channel: Channel.LGWAN, sourceAddress: 'test' });
    try {
      expect(await t.app.services.detector.list(ctx, {}, 10, null)).toEqual([]);
      expect(await t.app.services.suspensions.list(ctx)).toEqual([]);
      expect(await t.app.services.accounts.list(ctx, {}, 10, null)).toEqual({ nodes: [], endCursor: null });
    } finally {
      await finishRequest(ctx);
      await operator.gql(RESUME, { f: 'EXPORT', m: code });
    }
  });

  it('reaches every alert, page after page, and narrows them to one kind or one account, so a flood of alerts hides none', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const { officer } = await t.tenant();
    await t.app.services.detector.accountLocked(officer.accountId, officer.municipalityCode, 'test');
    const [{ id: locked }] = await t.db.query(`SELECT id::text FROM security_alert WHERE actor_id = $1`, [officer.accountId]);
    // More alerts after it than the largest page holds, as an attacker raising LOGIN_THROTTLED would bring.
    await t.db.query(
      `INSERT INTO security_alert (kind, source_address, detail) SELECT 'LOGIN_THROTTLED', '203.0.113.' || (n % 250), 'flood' FROM generate_series(1, 501) n`,
    );
    const PAGE = 'query($f: SecurityAlertFilter, $n: Int, $a: String) { securityAlerts(filter: $f, first: $n, after: $a) { id kind actorId } }';
    const newest = (await operator.gql(PAGE, { n: 500 })).data.securityAlerts;
    expect(newest).toHaveLength(500);
    expect(newest.map((a: { id: string }) => a.id)).not.toContain(locked);
    // The next page goes on from the last alert's id, older, without repeating one.
    let reached = false;
    for (let after = newest[499].id, seen = new Set(newest.map((a: { id: string }) => a.id)); !reached;) {
      const page = (await operator.gql(PAGE, { n: 500, a: after })).data.securityAlerts;
      expect(page.length).toBeGreaterThan(0);
      for (const a of page) {
        expect(seen.has(a.id)).toBe(false);
        expect(BigInt(a.id) < BigInt(after)).toBe(true);
        seen.add(a.id);
      }
      reached = page.some((a: { id: string }) => a.id === locked);
      after = page[page.length - 1].id;
    }
    expect((await operator.gql(PAGE, { f: { kind: 'ACCOUNT_LOCKED' }, n: 500 })).data.securityAlerts)
      .toContainEqual({ id: locked, kind: 'ACCOUNT_LOCKED', actorId: officer.accountId });
    expect((await operator.gql(PAGE, { f: { actorId: officer.accountId } })).data.securityAlerts)
      .toEqual([{ id: locked, kind: 'ACCOUNT_LOCKED', actorId: officer.accountId }]);
    expect((await operator.gql(PAGE, { f: { kind: 'LOGIN_THROTTLED', actorId: officer.accountId } })).data.securityAlerts).toEqual([]);
    // The first page of one kind holds nothing of another.
    expect(new Set((await operator.gql(PAGE, { f: { kind: 'LOGIN_THROTTLED' }, n: 50 })).data.securityAlerts.map((a: { kind: string }) => a.kind))).toEqual(new Set(['LOGIN_THROTTLED']));

    const refused = async (variables: Record<string, unknown>) => (await operator.gql(PAGE, variables)).errors?.map((e) => [e.message, e.extensions?.code]);
    expect(await refused({ a: 'not-a-cursor' })).toEqual([['after: not a cursor returned by this API', 'BAD_USER_INPUT']]);
    // A number that is no alert's id is no cursor either, as in auditEvents: refused, not a page that reads as the next one.
    const [{ next }] = await t.db.query(`SELECT (max(id) + 1000)::text AS next FROM security_alert`);
    for (const a of [next, '0']) {
      const page = await operator.gql(PAGE, { a });
      expect(page.data).toBeNull();
      expect(page.errors!.map((e) => [e.message, e.extensions])).toEqual([['after: not a cursor returned by this API', { code: 'BAD_USER_INPUT', field: ['after'] }]]);
    }
    expect(await refused({ f: { actorId: 'x' } })).toEqual([['filter.actorId: must be an account id as the API hands them out', 'BAD_USER_INPUT']]);
    // Well-formed, but no account has it: refused as auditEvents refuses it, not an empty page that reads as "no alerts".
    const unknown = await operator.gql(PAGE, { f: { actorId: '00000000-0000-0000-0000-000000000000' } });
    expect(unknown.data).toBeNull();
    expect(unknown.errors!.map((e) => [e.message, e.extensions])).toEqual([[
      'filter.actorId: is not an account id: no account has it',
      { code: 'BAD_USER_INPUT', field: ['filter', 'actorId'], reason: 'NOT_FOUND' },
    ]]);
    // An account's id in upper case is the same account.
    expect((await operator.gql(PAGE, { f: { actorId: officer.accountId.toUpperCase() } })).data.securityAlerts)
      .toEqual([{ id: locked, kind: 'ACCOUNT_LOCKED', actorId: officer.accountId }]);
    expect((await refused({ f: { kind: 'NO_SUCH_KIND' } }))?.[0][1]).toBe('BAD_USER_INPUT');
  });

  it('raises an alert when an account gets locked', async () => {
    const account = await t.createAccount(Role.OPERATOR);
    for (let i = 0; i < 5; i++) await t.login(Channel.LGWAN, account.loginId, 'wrong-password!');
    const [alert] = await t.db.query(`SELECT kind FROM security_alert WHERE actor_id = $1`, [account.id]);
    expect(alert).toEqual({ kind: 'ACCOUNT_LOCKED' });
  });
});

describe('intrusion detection of My Number reads', () => {
  const PAGE = 'query($after: String, $n: Int) { residents(first: $n, after: $after) { nodes { id myNumber } pageInfo { endCursor } } }';

  /** A city of `count` residents imported from its registry, and its LG-WAN officer; the residents' My Numbers too. */
  async function city(count: number): Promise<{ code: string; officer: Session; myNumbers: string[] }> {
    const { code, officer } = await t.tenant();
    const rows = Array.from({ length: count }, () => registryRow({ ticket: '', series: '' }));
    expect((await importFile(t, officer, registryCsv(rows))).status).toBe('SUCCEEDED');
    return { code, officer, myNumbers: rows.map((r) => r.myNumber) };
  }

  /** Pages through the first `count` residents with their My Numbers, 100 a request, as a leak would. */
  async function readMyNumbers(officer: Session, count: number): Promise<void> {
    let after: string | null = null;
    for (let left = count; left > 0; left -= 100) {
      const page: any = await officer.gql(PAGE, { after, n: Math.min(left, 100) });
      expect(page.errors).toBeUndefined();
      expect(page.data.residents.nodes.every((r: { myNumber: string }) => /^\d{12}$/.test(r.myNumber))).toBe(true);
      after = page.data.residents.pageInfo.endCursor;
    }
  }

  const sweeps = (accountId: string) => t.db.query(`SELECT kind, municipality_code, source_address, detail FROM security_alert WHERE actor_id = $1`, [accountId]);

  it('alerts once when an officer reads the My Numbers of 1,000 residents within the window, naming the account, municipality and counts', async () => {
    const { code, officer, myNumbers } = await city(1_050);
    // A desk's worth and more, page after page: under the limit, nothing.
    await readMyNumbers(officer, 999);
    expect(await sweeps(officer.accountId)).toEqual([]);
    // A look-up by My Number is a read of it too: the one that reaches 1,000 raises the alert.
    const found = await officer.gql('query($m: String!) { residentByMyNumber(myNumber: $m) { id } }', { m: myNumbers[0] });
    expect(found).toEqual({ data: { residentByMyNumber: { id: expect.any(String) } } });
    const alert = { kind: 'MY_NUMBER_SWEEP', municipality_code: code, source_address: t.address, detail: '1000 My Numbers read within 15 min (residents\' numbers shown, and look-ups by number)' };
    expect(await sweeps(officer.accountId)).toEqual([alert]);
    expect(t.log.entries).toContainEqual(expect.objectContaining({ level: 'warn', event: 'security_alert', kind: 'MY_NUMBER_SWEEP', actorId: officer.accountId, municipalityCode: code }));
    // Reading on while over the limit raises no second alert.
    await readMyNumbers(officer, 1_050);
    expect(await sweeps(officer.accountId)).toEqual([alert]);
    // The alert holds ids and counts: no My Number, name or birth date read.
    const logged = t.log.text.filter((line) => line.includes('MY_NUMBER_SWEEP')).join('\n');
    for (const number of myNumbers) expect(logged).not.toContain(number);
  });

  it('counts look-ups by My Number, found or not, several in one request', async () => {
    const { code, officer, myNumbers } = await city(10);
    const lookUps = (numbers: string[]) => `{ ${numbers.map((m, i) => `r${i}: residentByMyNumber(myNumber: "${m}") { id }`).join(' ')} }`;
    // Numbers tried ten at a time (as many as a request may alias), as someone matching a list of numbers against the city would.
    expect((await officer.gql(lookUps(myNumbers))).data).toEqual(Object.fromEntries(myNumbers.map((_, i) => [`r${i}`, { id: expect.any(String) }])));
    for (let i = 1; i < 99; i++) expect((await officer.gql(lookUps(Array.from({ length: 10 }, randomMyNumber)))).errors).toBeUndefined();
    expect((await officer.gql(lookUps(Array.from({ length: 9 }, randomMyNumber)))).errors).toBeUndefined();
    expect(await sweeps(officer.accountId)).toEqual([]);
    await officer.gql(lookUps([randomMyNumber()]));
    expect(await sweeps(officer.accountId)).toEqual([expect.objectContaining({ kind: 'MY_NUMBER_SWEEP', municipality_code: code })]);
  });

  it('costs one statement a request however many numbers it read, none when it read none, and counts no other role', async () => {
    const { code, officer } = await city(100);
    const detector = t.app.services.detector as unknown as { query: (...args: unknown[]) => Promise<unknown> };
    const statements = jest.spyOn(detector, 'query');
    try {
      await readMyNumbers(officer, 100);
      expect(statements).toHaveBeenCalledTimes(1);
      statements.mockClear();
      expect((await officer.gql('{ residents(first: 100) { nodes { id familyName } } }')).data.residents.nodes).toHaveLength(100);
      expect(statements).not.toHaveBeenCalled();
    } finally {
      statements.mockRestore();
    }
    const counted = (accountId: string) => t.db.query(`SELECT cardinality(events) AS events FROM detection_window WHERE key = $1`, [`my-number:${accountId}`]);
    expect(await counted(officer.accountId)).toEqual([{ events: 100 }]);
    // On the internet channel the numbers are refused, not read: a refusal is counted, no read.
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    expect(codes(await internet.gql('{ residents(first: 100) { nodes { myNumber } } }'))).toEqual(Array(100).fill('FORBIDDEN'));
    expect(await counted(internet.accountId)).toEqual([]);
  });
});
