import { Channel, Role } from '../../src/schema/enums';
import { codes, PASSWORD, Session, TestApp } from '../helpers/test-app';

/**
 * The operator's list of accounts, of which a national platform holds tens of thousands: a page at a
 * time in login ID order, narrowed to one municipality, one role, the disabled accounts or one login
 * ID. The tests read a municipality of their own, whose accounts they know.
 */
let t: TestApp;
let operator: Session;
beforeAll(async () => {
  t = await TestApp.start();
  operator = await t.session(Role.OPERATOR, Channel.LGWAN);
});
afterAll(() => t.stop());

const LIST = `query($filter: AccountFilter, $first: Int, $after: String) {
  accounts(filter: $filter, first: $first, after: $after) { nodes { loginId role disabledAt } endCursor }
}`;
const list = (variables: Record<string, unknown>) => operator.gql(LIST, variables);
const loginIds = (page: { nodes: { loginId: string }[] }) => page.nodes.map((a) => a.loginId);

/** A municipality of its own, with officers and sites whose login IDs differ in the case of their first letters. */
async function municipalityWithAccounts(): Promise<{ code: string; ids: Record<string, { id: string; loginId: string }> }> {
  const code = await t.createMunicipality();
  const tag = `${process.pid}-${Date.now()}`;
  const ids: Record<string, { id: string; loginId: string }> = {};
  for (const [name, role] of [['Zeta', Role.VACCINATION_SITE], ['alpha', Role.MUNICIPALITY], ['Beta', Role.VACCINATION_SITE], ['delta', Role.MUNICIPALITY], ['Gamma', Role.MUNICIPALITY]] as const) {
    const input = { loginId: `${name}-${tag}`, password: PASSWORD, role, displayName: name, municipalityCode: code };
    const made = await operator.gql('mutation($input: CreateAccountInput!) { createAccount(input: $input) { account { id loginId } userErrors { code } } }', { input });
    expect(made.data.createAccount.userErrors).toEqual([]);
    ids[name] = made.data.createAccount.account;
  }
  return { code, ids };
}

describe('accounts', () => {
  it('pages through the accounts in login ID order whatever the case of its letters, each page after the last', async () => {
    const { code, ids } = await municipalityWithAccounts();
    const filter = { municipalityCode: code };
    const first = (await list({ filter, first: 2 })).data.accounts;
    expect(loginIds(first)).toEqual([ids.alpha.loginId, ids.Beta.loginId]);
    expect(first.endCursor).toBe(ids.Beta.id);
    const second = (await list({ filter, first: 2, after: first.endCursor })).data.accounts;
    expect(loginIds(second)).toEqual([ids.delta.loginId, ids.Gamma.loginId]);
    const last = (await list({ filter, first: 2, after: second.endCursor })).data.accounts;
    expect(last).toEqual({ nodes: [expect.objectContaining({ loginId: ids.Zeta.loginId })], endCursor: null });
    // A page that ends with the last account says there is no next one.
    expect((await list({ filter, first: 5 })).data.accounts.endCursor).toBeNull();
    // A cursor in capitals is the same account.
    expect(loginIds((await list({ filter, first: 2, after: first.endCursor.toUpperCase() })).data.accounts)).toEqual(loginIds(second));
  });

  it('narrows the list to a role, to disabled or enabled accounts, and to a login ID typed in any case', async () => {
    const { code, ids } = await municipalityWithAccounts();
    const sites = (await list({ filter: { municipalityCode: code, role: 'VACCINATION_SITE' } })).data.accounts;
    expect(loginIds(sites)).toEqual([ids.Beta.loginId, ids.Zeta.loginId]);
    const operators = (await list({ filter: { role: 'OPERATOR' }, first: 500 })).data.accounts.nodes;
    expect(new Set(operators.map((a: { role: string }) => a.role))).toEqual(new Set(['OPERATOR']));
    // The other test files sharing the database make operators too, maybe more than a page of them.
    expect(loginIds((await list({ filter: { role: 'OPERATOR', loginId: operator.loginId } })).data.accounts)).toEqual([operator.loginId]);
    expect((await list({ filter: { role: 'MUNICIPALITY', loginId: operator.loginId } })).data.accounts.nodes).toEqual([]);

    const disabled = await operator.gql('mutation($id: ID!) { disableAccount(id: $id) { userErrors { code } } }', { id: ids.delta.id });
    expect(disabled.data.disableAccount.userErrors).toEqual([]);
    expect(loginIds((await list({ filter: { municipalityCode: code, disabled: true } })).data.accounts)).toEqual([ids.delta.loginId]);
    expect(loginIds((await list({ filter: { municipalityCode: code, disabled: false } })).data.accounts))
      .toEqual([ids.alpha.loginId, ids.Beta.loginId, ids.Gamma.loginId, ids.Zeta.loginId]);
    const everyDisabled = (await list({ filter: { disabled: true }, first: 500 })).data.accounts.nodes;
    expect(everyDisabled.every((a: { disabledAt: string | null }) => a.disabledAt !== null)).toBe(true);

    for (const typed of [ids.Gamma.loginId, ids.Gamma.loginId.toLowerCase(), ids.Gamma.loginId.toUpperCase()]) {
      expect(loginIds((await list({ filter: { loginId: typed } })).data.accounts)).toEqual([ids.Gamma.loginId]);
    }
    expect((await list({ filter: { loginId: `nobody-${Date.now()}` } })).data.accounts).toEqual({ nodes: [], endCursor: null });
  });

  it('refuses a page size, a cursor or a filter it cannot answer, naming the argument', async () => {
    const refused = async (variables: Record<string, unknown>) => {
      const result = await list(variables);
      expect(result.data).toBeNull();
      return result.errors?.map((e) => ({ message: e.message, ...e.extensions }));
    };
    for (const first of [0, 501]) {
      expect(await refused({ first })).toEqual([{ message: 'first: must be between 1 and 500', code: 'BAD_USER_INPUT', field: ['first'] }]);
    }
    // Not an id, and an id no account has: neither is read as the start of the list.
    for (const after of ['not-a-cursor', '00000000-0000-4000-8000-000000000000']) {
      expect(await refused({ after })).toEqual([{ message: 'after: not a cursor returned by this API', code: 'BAD_USER_INPUT', field: ['after'] }]);
    }
    expect(await refused({ filter: { municipalityCode: '131017' } }))
      .toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT', field: ['filter', 'municipalityCode'], reason: 'INVALID_CHECK_DIGIT' })]);
    expect(await refused({ filter: { municipalityCode: '479993' } })).toEqual([{
      message: 'filter.municipalityCode: is not a municipality in the national list', code: 'BAD_USER_INPUT', field: ['filter', 'municipalityCode'], reason: 'UNKNOWN_MUNICIPALITY',
    }]);
    // A ward (横浜市鶴見区) holds no account: its designated city's officers are the city's.
    expect(await refused({ filter: { municipalityCode: '141011' } })).toEqual([{
      message: 'filter.municipalityCode: is a ward of the designated city 141003, which is one municipality: give the city\'s code', code: 'BAD_USER_INPUT', field: ['filter', 'municipalityCode'], reason: 'UNKNOWN_MUNICIPALITY',
    }]);
    expect(await refused({ filter: { loginId: 'a b' } })).toEqual([{
      message: 'filter.loginId: must be 3 to 64 letters, digits or . _ @ -', code: 'BAD_USER_INPUT', field: ['filter', 'loginId'], reason: 'INVALID_FORMAT',
    }]);
  });

  it('is the operator\'s alone', async () => {
    const { officer } = await t.tenant();
    expect(codes(await officer.gql(LIST, { filter: { municipalityCode: officer.municipalityCode } }))).toEqual(['FORBIDDEN']);
  });
});
