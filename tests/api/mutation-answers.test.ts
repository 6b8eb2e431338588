import { Channel, Role } from '../../src/schema/enums';
import { codes, PASSWORD, registerResident, residentInput, Session, TestApp } from '../helpers/test-app';

/** What a mutation's answer says happened is what happened, and changes asked of rows nobody found leave a trace. */
let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const givenName = async (id: string): Promise<string> => (await t.db.query('SELECT given_name FROM resident WHERE id = $1', [id]))[0].given_name;

/** The operation log's lines for `operation`, written in `code`'s chain (or the platform's). */
const logged = (operation: string, code: string | null) => t.db.query(
  'SELECT target_ids, outcome, actor_id FROM audit_event WHERE operation = $1 AND municipality_code IS NOT DISTINCT FROM $2 ORDER BY id', [operation, code]);

describe('mutation answers', () => {
  it('undoes a change whose answer holds an error: a field of its payload refused, or another mutation of the document', async () => {
    const { code } = await t.tenant();
    const lgwan = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    const { id } = await registerResident(lgwan);
    const before = await givenName(id);
    // On the internet channel an officer may change a resident but not read My Number back.
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    const refusedField = await internet.gql('mutation($id: ID!) { updateResident(id: $id, input: { givenName: "変更" }) { resident { myNumber } userErrors { code } } }', { id });
    expect(codes(refusedField)).toEqual(['FORBIDDEN']);
    expect(await givenName(id)).toBe(before);
    // A document whose second mutation is refused writes nothing of the first either.
    const refusedSecond = await lgwan.gql(`mutation($id: ID!) {
      a: updateResident(id: $id, input: { givenName: "変更" }) { resident { givenName } userErrors { code } }
      b: createAccount(input: { loginId: "x-officer", role: MUNICIPALITY, displayName: "x", password: "long enough password 1" }) { userErrors { code } }
    }`, { id });
    expect(codes(refusedSecond)).toEqual(['FORBIDDEN']);
    expect(await givenName(id)).toBe(before);
    // No payload of an undone document reads as done, not even one the refusal left whole.
    const siblings = await internet.gql(`mutation($id: ID!) {
      a: updateResident(id: $id, input: { givenName: "変更" }) { resident { givenName } userErrors { code } }
      b: updateResident(id: $id, input: { familyName: "変更" }) { resident { myNumber } userErrors { code } }
    }`, { id });
    expect(codes(siblings)).toEqual(['FORBIDDEN']);
    expect(siblings.data).toBeNull();
    expect(await givenName(id)).toBe(before);
    // The same change alone is made.
    const alone = await internet.gql('mutation($id: ID!) { updateResident(id: $id, input: { givenName: "変更" }) { resident { givenName } userErrors { code } } }', { id });
    expect(alone).toEqual({ data: { updateResident: { resident: { givenName: '変更' }, userErrors: [] } } });
    expect(await givenName(id)).toBe('変更');
  });

  it('logs a document undone because one of its mutations failed, naming its mutations, though what they logged is undone with them', async () => {
    const { code, officer } = await t.tenant();
    const events = (operation: string) => t.db.query(
      'SELECT target_ids, outcome, actor_id, municipality_code FROM audit_event WHERE operation = $1 AND actor_id = $2 ORDER BY id', [operation, officer.accountId]);
    const undone = await officer.gql(`mutation {
      a: changePassword(currentPassword: "${PASSWORD}", newPassword: "a-new-password-1") { userErrors { code } }
      b: createAccount(input: { loginId: "z-officer", role: MUNICIPALITY, displayName: "z", password: "long enough password 1" }) { userErrors { code } }
    }`);
    expect(codes(undone)).toEqual(['FORBIDDEN']);
    // The change is undone (the password and the token still hold), and so is its own log line.
    expect(codes(await officer.gql('{ viewer { role } }'))).toEqual([]);
    expect(await events('account.changePassword')).toEqual([]);
    expect(await events('mutation.undone')).toEqual([{ target_ids: ['changePassword', 'createAccount'], outcome: 'FAILURE', actor_id: officer.accountId, municipality_code: code }]);
    // A document of refusals only did nothing to undo: each refusal is all there is to it.
    expect(codes(await officer.gql('mutation { disableAccount(id: "00000000-0000-4000-8000-000000000001") { userErrors { code } } }'))).toEqual(['FORBIDDEN']);
    expect(await events('mutation.undone')).toHaveLength(1);
  });

  it('logs a mutation undone because a field of its answer was refused, but nothing for a document that never ran', async () => {
    const { code } = await t.tenant();
    const lgwan = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    const { id } = await registerResident(lgwan);
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    const undoneLines = () => t.db.query(
      `SELECT target_ids, outcome FROM audit_event WHERE operation = 'mutation.undone' AND actor_id = $1 ORDER BY id`, [internet.accountId]);
    // The change ran and answered; its answer's My Number was refused, so it was undone: that leaves a line.
    const refused = await internet.gql('mutation($id: ID!) { updateResident(id: $id, input: { givenName: "二郎" }) { resident { givenName myNumber } userErrors { code } } }', { id });
    expect(refused.errors?.map((e) => [e.extensions?.code, e.path])).toEqual([['FORBIDDEN', ['updateResident', 'resident', 'myNumber']]]);
    expect(refused.data).toBeNull();
    expect(await givenName(id)).not.toBe('二郎');
    expect(await undoneLines()).toEqual([{ target_ids: ['updateResident'], outcome: 'FAILURE' }]);
    // Variables of the wrong type stop the document before anything runs: there is nothing undone to log.
    const REGISTER_SEX = 'mutation($input: RegisterResidentInput!) { registerResident(input: $input) { userErrors { code } } }';
    const coerced = await lgwan.gql(REGISTER_SEX, { input: { ...residentInput(), sex: 'X' } });
    expect(codes(coerced)).toEqual(['BAD_USER_INPUT']);
    const lgwanUndone = await t.db.query(`SELECT 1 FROM audit_event WHERE operation = 'mutation.undone' AND actor_id = $1`, [lgwan.accountId]);
    expect(lgwanUndone).toEqual([]);
  });

  it('logs a change asked of a row the caller cannot find, with the ids asked for, even when the request is undone', async () => {
    const chiyoda = await t.tenant();
    const minato = await t.tenant();
    const { id } = await registerResident(chiyoda.officer);
    const DELETE = 'mutation($id: ID!) { deleteResident(id: $id) { userErrors { field code } } }';
    const attempt = async (officer: Session) => (await officer.gql(DELETE, { id })).data.deleteResident.userErrors;
    expect(await attempt(minato.officer)).toEqual([{ field: ['id'], code: 'NOT_FOUND' }]);
    expect(await t.db.query('SELECT id FROM resident WHERE id = $1', [id])).toHaveLength(1);
    expect(await logged('deleteResident.notFound', minato.code)).toEqual([{ target_ids: [id], outcome: 'FAILURE', actor_id: minato.officer.accountId }]);
    // Nothing of it reaches the municipality whose id it was.
    expect(await logged('deleteResident.notFound', chiyoda.code)).toEqual([]);
    // Undone with the rest of its document, the line stays.
    const undone = await minato.officer.gql(`mutation($id: ID!) {
      a: voidTicket(id: $id, reason: "lost") { userErrors { code } }
      b: createAccount(input: { loginId: "y-officer", role: MUNICIPALITY, displayName: "y", password: "long enough password 1" }) { userErrors { code } }
    }`, { id });
    expect(codes(undone)).toEqual(['FORBIDDEN']);
    expect(await logged('voidTicket.notFound', minato.code)).toEqual([{ target_ids: [id], outcome: 'FAILURE', actor_id: minato.officer.accountId }]);

    // What is no id (a My Number typed in the wrong box, say) stays out of the log; ids are logged as the database reads them.
    await minato.officer.gql(DELETE, { id: '123456789018' });
    await minato.officer.gql(DELETE, { id: id.toUpperCase() });
    expect((await logged('deleteResident.notFound', minato.code)).map((e: { target_ids: string[] }) => e.target_ids)).toEqual([[id], ['-'], [id]]);
    // In a list, the entries that missed are named, not the ones before them.
    const own = await registerResident(minato.officer);
    const ISSUE = 'mutation($input: IssueTicketsInput!) { issueTickets(input: $input) { userErrors { field code } } }';
    const issued = await minato.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: own.id }, { residentId: id }] } });
    expect(issued.data.issueTickets.userErrors).toEqual([{ field: ['input', 'tickets', '1', 'residentId'], code: 'NOT_FOUND' }]);
    expect(await logged('issueTickets.notFound', minato.code)).toEqual([{ target_ids: [id], outcome: 'FAILURE', actor_id: minato.officer.accountId }]);
    // A NOT_FOUND that names no row (a function that is not suspended) is no missed row.
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const resumed = await operator.gql('mutation { resumeFunction(function: EXPORT, municipalityCode: "131016") { userErrors { code } } }');
    expect(resumed.data.resumeFunction.userErrors).toEqual([{ code: 'NOT_FOUND' }]);
    expect(await logged('resumeFunction.notFound', null)).toEqual([]);
  });
});
