import { Channel, Role } from '../../src/schema/enums';
import { codes, GraphQLResponse, PASSWORD, Session, TestApp } from '../helpers/test-app';

/**
 * The operator's way back for an account: enableAccount for one it disabled, resetAccountPassword
 * for a holder who forgot the password or is locked out. Neither revives a token issued before.
 */
let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start({ maxFailedLogins: 3 });
});
afterAll(() => t.stop());

const TEMPORARY = 'temporary-from-operator-7';
const CHOSEN = 'chosen-after-reset-8';
const LOGIN = 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { accessToken mustChangePassword } }';
const ACCOUNT = 'account { id disabledAt lockedUntil mustChangePassword } userErrors { field code message }';
const DISABLE = `mutation($id: ID!) { disableAccount(id: $id) { ${ACCOUNT} } }`;
const ENABLE = `mutation($id: ID!) { enableAccount(id: $id) { ${ACCOUNT} } }`;
const RESET = `mutation($id: ID!, $p: String!) { resetAccountPassword(id: $id, temporaryPassword: $p) { ${ACCOUNT} } }`;
const STATISTICS = '{ statistics(scope: { kind: NATION }) { totalDoses { value } } }';
const NOT_FOUND = { field: ['id'], code: 'NOT_FOUND', message: 'not found or no access' };

const enable = (operator: Session, id: string) => operator.gql(ENABLE, { id });
const reset = (operator: Session, id: string, password = TEMPORARY) => operator.gql(RESET, { id, p: password });
const login = (loginId: string, password = PASSWORD): Promise<GraphQLResponse> => t.request(Channel.LGWAN, LOGIN, { l: loginId, p: password });

/** The operation log's lines of `operation` naming `id`, oldest first, as the database holds them. */
const logOf = (operation: string, id: string) =>
  t.db.query(`SELECT * FROM audit_event WHERE operation = $1 AND $2 = ANY(target_ids) ORDER BY id`, [operation, id]);
const outcomes = async (operation: string, id: string) =>
  (await logOf(operation, id)).map((e: { outcome: string; actor_id: string }) => [e.outcome, e.actor_id]);

const passwordVersion = async (id: string): Promise<number> =>
  (await t.db.query('SELECT password_version FROM account WHERE id = $1', [id]))[0].password_version;

describe('enableAccount', () => {
  it('lets a disabled account sign in again, but a token issued before the disable stays refused', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const national = await t.session(Role.NATIONAL, Channel.LGWAN);
    expect(codes(await national.gql(STATISTICS))).toEqual([]);
    expect((await operator.gql(DISABLE, { id: national.accountId })).data.disableAccount.userErrors).toEqual([]);
    expect(codes(await national.gql(STATISTICS))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await login(national.loginId))).toEqual(['UNAUTHENTICATED']);

    expect((await enable(operator, national.accountId)).data.enableAccount)
      .toEqual({ account: { id: national.accountId, disabledAt: null, lockedUntil: null, mustChangePassword: false }, userErrors: [] });
    // The token from before the disable, unexpired and under an unchanged password, is not revived.
    expect(codes(await national.gql(STATISTICS))).toEqual(['UNAUTHENTICATED']);
    const again = await login(national.loginId);
    expect(again.data.login.mustChangePassword).toBe(false);
    const renewed = t.sessionFor(again.data.login.accessToken, Channel.LGWAN, { id: national.accountId, loginId: national.loginId }, null);
    expect(codes(await renewed.gql(STATISTICS))).toEqual([]);
    expect(await outcomes('account.enable', national.accountId)).toEqual([['SUCCESS', operator.accountId]]);
  });

  it('refuses an account that is not disabled, and writes nothing', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const national = await t.session(Role.NATIONAL, Channel.LGWAN);
    const version = await passwordVersion(national.accountId);
    expect((await enable(operator, national.accountId)).data.enableAccount).toEqual({
      account: null,
      userErrors: [{ field: ['id'], code: 'INVALID_STATE', message: 'is not disabled: there is nothing to enable' }],
    });
    expect(await passwordVersion(national.accountId)).toBe(version);
    expect(codes(await national.gql(STATISTICS))).toEqual([]);
    expect(await logOf('account.enable', national.accountId)).toEqual([]);
  });
});

describe('resetAccountPassword', () => {
  it('gives a locked-out holder a temporary password to change at sign-in; every token from before is refused', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const national = await t.session(Role.NATIONAL, Channel.LGWAN);
    const account = { id: national.accountId, loginId: national.loginId };
    for (let i = 0; i < 3; i++) expect(codes(await login(national.loginId, `wrong-password-${i}`))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await login(national.loginId))).toEqual(['UNAUTHENTICATED']);
    const listed = await operator.gql('query($l: String!) { accounts(filter: { loginId: $l }) { nodes { id lockedUntil } } }', { l: national.loginId });
    expect(listed.data.accounts.nodes).toEqual([{ id: national.accountId, lockedUntil: expect.any(String) }]);

    expect((await reset(operator, national.accountId)).data.resetAccountPassword)
      .toEqual({ account: { id: national.accountId, disabledAt: null, lockedUntil: null, mustChangePassword: true }, userErrors: [] });
    const [row] = await t.db.query('SELECT failed_login_count, locked_until FROM account WHERE id = $1', [national.accountId]);
    expect(row).toEqual({ failed_login_count: 0, locked_until: null });
    expect(codes(await national.gql('{ viewer { role } }'))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await login(national.loginId))).toEqual(['UNAUTHENTICATED']);

    const issued = await login(national.loginId, TEMPORARY);
    expect(issued.data.login.mustChangePassword).toBe(true);
    const holder = t.sessionFor(issued.data.login.accessToken, Channel.LGWAN, account, null);
    expect(codes(await holder.gql(STATISTICS))).toEqual(['PASSWORD_CHANGE_REQUIRED']);
    const changed = await holder.gql('mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { userErrors { code } } }', { c: TEMPORARY, n: CHOSEN });
    expect(changed.data.changePassword.userErrors).toEqual([]);
    const own = await login(national.loginId, CHOSEN);
    expect(own.data.login.mustChangePassword).toBe(false);
    expect(codes(await t.sessionFor(own.data.login.accessToken, Channel.LGWAN, account, null).gql(STATISTICS))).toEqual([]);

    expect(await outcomes('account.passwordReset', national.accountId)).toEqual([['SUCCESS', operator.accountId]]);
  });

  it('leaves a disabled account disabled', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const national = await t.createAccount(Role.NATIONAL);
    const disabled = (await operator.gql(DISABLE, { id: national.id })).data.disableAccount.account.disabledAt;
    expect(disabled).not.toBeNull();
    expect((await reset(operator, national.id)).data.resetAccountPassword)
      .toEqual({ account: { id: national.id, disabledAt: disabled, lockedUntil: null, mustChangePassword: true }, userErrors: [] });
    expect(codes(await login(national.loginId, TEMPORARY))).toEqual(['UNAUTHENTICATED']);
    expect((await enable(operator, national.id)).data.enableAccount.userErrors).toEqual([]);
    expect((await login(national.loginId, TEMPORARY)).data.login.mustChangePassword).toBe(true);
  });

  it("refuses the caller's own account (changePassword is for that): nothing changes, and the refusal is logged", async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    for (const id of [operator.accountId, operator.accountId.toUpperCase()]) {
      expect((await reset(operator, id)).data.resetAccountPassword).toEqual({
        account: null,
        userErrors: [{ field: ['id'], code: 'INVALID_STATE', message: 'is your own account: change your own password with changePassword' }],
      });
    }
    expect(codes(await operator.gql('{ accounts { nodes { id } } }'))).toEqual([]);
    expect(codes(await login(operator.loginId, TEMPORARY))).toEqual(['UNAUTHENTICATED']);
    expect((await login(operator.loginId)).data.login.mustChangePassword).toBe(false);
    expect(await outcomes('account.passwordReset', operator.accountId)).toEqual([['DENIED', operator.accountId], ['DENIED', operator.accountId]]);
  });

  it('holds the temporary password to the rule createAccount holds it to, naming the field; nothing changes', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const national = await t.session(Role.NATIONAL, Channel.LGWAN);
    expect((await reset(operator, national.accountId, 'short')).data.resetAccountPassword).toEqual({
      account: null,
      userErrors: [{ field: ['temporaryPassword'], code: 'INVALID_FORMAT', message: 'must be at least 12 characters' }],
    });
    expect(codes(await national.gql(STATISTICS))).toEqual([]);
    expect(codes(await login(national.loginId, 'short'))).toEqual(['UNAUTHENTICATED']);
    expect(await logOf('account.passwordReset', national.accountId)).toEqual([]);
  });

  it('writes no password into the operation log', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const national = await t.createAccount(Role.NATIONAL);
    expect((await reset(operator, national.id)).data.resetAccountPassword.userErrors).toEqual([]);
    expect((await reset(operator, operator.accountId)).data.resetAccountPassword.userErrors).toHaveLength(1);
    const logged = JSON.stringify([...await logOf('account.passwordReset', national.id), ...await logOf('account.passwordReset', operator.accountId)]);
    expect(logged).toContain(national.id);
    expect(logged).not.toContain(TEMPORARY);
    const [{ n }] = await t.db.query('SELECT count(*)::int AS n FROM audit_event WHERE strpos(audit_event::text, $1) > 0', [TEMPORARY]);
    expect(n).toBe(0);
  });
});

describe('enableAccount and resetAccountPassword', () => {
  it('answer an unknown or malformed id as not found', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id', '']) {
      expect((await enable(operator, id)).data.enableAccount).toEqual({ account: null, userErrors: [NOT_FOUND] });
      expect((await reset(operator, id)).data.resetAccountPassword).toEqual({ account: null, userErrors: [NOT_FOUND] });
    }
  });

  it('are the operator\'s only: an officer or the national government is refused and changes nothing', async () => {
    const { officer } = await t.tenant();
    const national = await t.session(Role.NATIONAL, Channel.LGWAN);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const target = await t.createAccount(Role.NATIONAL);
    expect((await operator.gql(DISABLE, { id: target.id })).data.disableAccount.userErrors).toEqual([]);
    for (const caller of [officer, national]) {
      for (const refused of [await enable(caller, target.id), await reset(caller, target.id)]) {
        expect(refused.data).toBeNull();
        expect(codes(refused)).toEqual(['FORBIDDEN']);
      }
    }
    const [row] = await t.db.query('SELECT disabled_at IS NOT NULL AS disabled, must_change_password FROM account WHERE id = $1', [target.id]);
    expect(row).toEqual({ disabled: true, must_change_password: false });
    expect(codes(await login(target.loginId, TEMPORARY))).toEqual(['UNAUTHENTICATED']);
  });
});
