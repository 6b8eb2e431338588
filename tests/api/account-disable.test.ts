import { Channel, Role } from '../../src/schema/enums';
import { blockedBy, codes, Session, TestApp } from '../helpers/test-app';

/**
 * Only an operator enables a disabled account again, so disableAccount keeps the operators from
 * locking themselves out. Against a database of its own: the shared one holds every other test's
 * operators, and "the last enabled operator" needs a database where the test knows them all.
 */
let t: TestApp;

beforeAll(async () => {
  t = await TestApp.startOnOwnDatabase(`account_disable_${process.pid}`);
}, 120_000);

afterAll(() => t?.stop());

const DISABLE = 'mutation($id: ID!) { disableAccount(id: $id) { account { id disabledAt } userErrors { field code message } } }';
const disable = (operator: Session, id: string) => operator.gql(DISABLE, { id });

const OWN = { field: ['id'], code: 'INVALID_STATE', message: 'is your own account: another operator has to disable it' };
const LAST = { field: ['id'], code: 'INVALID_STATE', message: 'is the last enabled operator account: create another operator before disabling it' };

/** The operation log's account.disable lines naming `id`, oldest first, as an operator reads them. */
async function disableLog(operator: Session, id: string): Promise<{ outcome: string; actorId: string }[]> {
  const result = await operator.gql('query($id: String!) { auditEvents(filter: { operation: "account.disable", targetId: $id }) { nodes { outcome actorId } } }', { id });
  expect(codes(result)).toEqual([]);
  return result.data.auditEvents.nodes.reverse();
}

const enabledOperators = async (): Promise<string[]> =>
  (await t.db.query(`SELECT id FROM account WHERE role = 'OPERATOR' AND disabled_at IS NULL ORDER BY id`)).map((r: { id: string }) => r.id);

describe('disableAccount', () => {
  it("refuses the caller's own account: nothing changes, its token still works, and the refusal is logged", async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const colleague = await t.session(Role.OPERATOR, Channel.LGWAN);
    expect((await disable(operator, operator.accountId)).data.disableAccount).toEqual({ account: null, userErrors: [OWN] });
    expect(codes(await operator.gql('{ accounts { nodes { id } } }'))).toEqual([]);
    expect(codes(await t.login(Channel.LGWAN, operator.loginId))).toEqual([]);
    expect(await disableLog(colleague, operator.accountId)).toEqual([{ outcome: 'DENIED', actorId: operator.accountId }]);

    // Another operator may disable it; then it is gone, and so is its token.
    expect((await disable(colleague, operator.accountId)).data.disableAccount.userErrors).toEqual([]);
    expect(codes(await operator.gql('{ accounts { nodes { id } } }'))).toEqual(['UNAUTHENTICATED']);
    expect(await disableLog(colleague, operator.accountId))
      .toEqual([{ outcome: 'DENIED', actorId: operator.accountId }, { outcome: 'SUCCESS', actorId: colleague.accountId }]);
  });

  it('keeps the last enabled operator when two operators disable each other at the same moment', async () => {
    // Every operator but these two disabled, from the database: through the API one cannot get here.
    await t.db.query(`UPDATE account SET disabled_at = now() WHERE role = 'OPERATOR' AND disabled_at IS NULL`);
    const a = await t.session(Role.OPERATOR, Channel.LGWAN);
    const b = await t.session(Role.OPERATOR, Channel.LGWAN);
    expect(await enabledOperators()).toEqual([a.accountId, b.accountId].sort());

    // Both requests are signed in and running before either writes: each waits on the test's lock.
    const holder = t.db.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT id FROM account WHERE id IN ($1, $2) FOR UPDATE`, [a.accountId, b.accountId]);
      const racing = [disable(a, b.accountId), disable(b, a.accountId)];
      await blockedBy(t.db, holder, '%account%', 2);
      await holder.commitTransaction();
      const [first, second] = (await Promise.all(racing)).map((r) => r.data.disableAccount.userErrors);
      expect([first, second]).toContainEqual([]);
      expect([first, second]).toContainEqual([LAST]);
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
    const [survivor] = await enabledOperators();
    expect(await enabledOperators()).toHaveLength(1);
    const left = survivor === a.accountId ? a : b;
    const gone = survivor === a.accountId ? b : a;
    expect(codes(await left.gql('{ accounts { nodes { id } } }'))).toEqual([]);
    expect(await disableLog(left, gone.accountId)).toEqual([{ outcome: 'SUCCESS', actorId: left.accountId }]);
    expect(await disableLog(left, left.accountId)).toEqual([{ outcome: 'DENIED', actorId: gone.accountId }]);

    // The last operator still disables other accounts; and itself, never.
    const national = await t.createAccount(Role.NATIONAL);
    expect((await disable(left, national.id)).data.disableAccount).toMatchObject({ account: { id: national.id }, userErrors: [] });
    expect((await disable(left, left.accountId)).data.disableAccount).toEqual({ account: null, userErrors: [OWN] });
    // Its id in capitals is the same account.
    expect((await disable(left, left.accountId.toUpperCase())).data.disableAccount).toEqual({ account: null, userErrors: [OWN] });
    expect(await enabledOperators()).toEqual([left.accountId]);
  });

  it('refuses an account already disabled, as enableAccount refuses an enabled one, and writes nothing', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const national = await t.createAccount(Role.NATIONAL);
    const { disabledAt } = (await disable(operator, national.id)).data.disableAccount.account;
    expect(disabledAt).not.toBeNull();
    for (const id of [national.id, national.id.toUpperCase()]) {
      expect((await disable(operator, id)).data.disableAccount).toEqual({
        account: null,
        userErrors: [{ field: ['id'], code: 'INVALID_STATE', message: 'is already disabled: there is nothing to disable' }],
      });
    }
    // Disabled since the first time, and logged once.
    expect((await t.db.query('SELECT disabled_at FROM account WHERE id = $1', [national.id]))[0].disabled_at.toISOString()).toBe(disabledAt);
    expect(await disableLog(operator, national.id)).toEqual([{ outcome: 'SUCCESS', actorId: operator.accountId }]);
  });

  it('answers an unknown or malformed id as not found', async () => {
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      expect((await disable(operator, id)).data.disableAccount)
        .toEqual({ account: null, userErrors: [{ field: ['id'], code: 'NOT_FOUND', message: 'not found or no access' }] });
    }
  });
});
