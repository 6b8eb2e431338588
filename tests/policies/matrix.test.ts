import { Channel, Role } from '../../src/schema/enums';
import { codes, PASSWORD, registerResident, residentInput, Session, TestApp } from '../helpers/test-app';

/**
 * Role × operation: who may call what at all. Row-level isolation is tested in tests/api; this
 * proves the type-level gate of every operation for every kind of caller.
 */
let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

type Caller = 'anonymous' | 'municipality/LGWAN' | 'municipality/internet' | 'site' | 'prefecture' | 'national' | 'integrator' | 'operator'
  // An officer still holding the password the operator issued.
  | 'issued password';

const NO_ID = '00000000-0000-4000-8000-000000000000';
const officers: Caller[] = ['municipality/LGWAN', 'municipality/internet'];
const signedIn: Caller[] = ['municipality/LGWAN', 'municipality/internet', 'site', 'prefecture', 'national', 'integrator', 'operator'];

const operations: Record<string, { query: string; allowed: Caller[] }> = {
  viewer: { query: '{ viewer { role } }', allowed: [...signedIn, 'issued password'] },
  changePassword: {
    query: 'mutation { changePassword(currentPassword: "not-the-password", newPassword: "a-new-password") { userErrors { code } } }',
    allowed: [...signedIn, 'issued password'],
  },
  municipalities: { query: '{ municipalities(prefectureCode: "13") { code } }', allowed: ['municipality/LGWAN', 'municipality/internet', 'site', 'prefecture', 'national', 'integrator', 'operator'] },
  residents: { query: '{ residents { nodes { id familyName } } }', allowed: ['municipality/LGWAN', 'municipality/internet'] },
  resident: { query: 'query($id: ID!) { resident(id: $id) { id } }', allowed: ['municipality/LGWAN', 'municipality/internet'] },
  residentMyNumber: { query: 'query($id: ID!) { resident(id: $id) { myNumber } }', allowed: ['municipality/LGWAN'] },
  residentByMyNumber: { query: '{ residentByMyNumber(myNumber: "123456789018") { id } }', allowed: ['municipality/LGWAN'] },
  registerResident: {
    query: 'mutation($input: RegisterResidentInput!) { registerResident(input: $input) { userErrors { code } } }',
    // A resident is registered with My Number, which the internet channel never handles.
    allowed: ['municipality/LGWAN'],
  },
  updateResident: { query: 'mutation($id: ID!) { updateResident(id: $id, input: {}) { userErrors { code } } }', allowed: ['municipality/LGWAN', 'municipality/internet'] },
  markResidentMovedOut: { query: 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-01-01") { userErrors { code } } }', allowed: ['municipality/LGWAN', 'municipality/internet'] },
  markResidentDeceased: { query: 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-01-01") { userErrors { code } } }', allowed: ['municipality/LGWAN', 'municipality/internet'] },
  clearResidentStatus: { query: 'mutation($id: ID!) { clearResidentStatus(id: $id, reason: "wrong resident") { userErrors { code } } }', allowed: ['municipality/LGWAN', 'municipality/internet'] },
  deleteResident: { query: 'mutation($id: ID!) { deleteResident(id: $id) { userErrors { code } } }', allowed: ['municipality/LGWAN', 'municipality/internet'] },
  accounts: { query: '{ accounts { nodes { id } } }', allowed: ['operator'] },
  importJob: { query: 'query($id: ID!) { importJob(id: $id) { id status } }', allowed: ['municipality/LGWAN'] },
  importJobs: { query: '{ importJobs { id status rowsRejected } }', allowed: ['municipality/LGWAN'] },
  createAccount: {
    query: 'mutation { createAccount(input: { loginId: "x", password: "y", role: NATIONAL, displayName: "z" }) { userErrors { code } } }',
    allowed: ['operator'],
  },
  disableAccount: { query: 'mutation { disableAccount(id: "00000000-0000-4000-8000-000000000000") { userErrors { code } } }', allowed: ['operator'] },
  enableAccount: { query: 'mutation { enableAccount(id: "00000000-0000-4000-8000-000000000000") { userErrors { code } } }', allowed: ['operator'] },
  resetAccountPassword: {
    query: 'mutation { resetAccountPassword(id: "00000000-0000-4000-8000-000000000000", temporaryPassword: "y") { userErrors { code } } }',
    allowed: ['operator'],
  },
  // Vaccination workflow.
  tickets: { query: '{ tickets { nodes { id } } }', allowed: officers },
  ticketByNumber: { query: '{ ticketByNumber(ticketNumber: "0000000000") { id } }', allowed: officers },
  residentTickets: { query: 'query($id: ID!) { resident(id: $id) { tickets { id } } }', allowed: officers },
  residentVaccinations: { query: 'query($id: ID!) { resident(id: $id) { vaccinations(includeHistory: true) { id } } }', allowed: officers },
  issueTickets: { query: 'mutation { issueTickets(input: { series: "1-2", allActiveResidents: true }) { issuedCount userErrors { code } } }', allowed: officers },
  voidTicket: { query: `mutation { voidTicket(id: "${NO_ID}", reason: "lost") { userErrors { code } } }`, allowed: officers },
  vaccinationRecord: { query: `{ vaccinationRecord(id: "${NO_ID}") { id } }`, allowed: officers },
  recordDose: {
    query: 'mutation($id: ID!) { recordDose(input: { residentId: $id, doseNumber: 9, vaccinatedOn: "2024-01-01", vaccineCode: "X", lotNumber: "A" }) { userErrors { code } } }',
    allowed: officers,
  },
  correctVaccinationRecord: { query: `mutation { correctVaccinationRecord(id: "${NO_ID}", input: { reason: "r" }) { userErrors { code } } }`, allowed: officers },
  deleteVaccinationRecord: { query: `mutation { deleteVaccinationRecord(id: "${NO_ID}", reason: "r") { userErrors { code } } }`, allowed: officers },
  pendingDoses: { query: '{ pendingDoses { id } }', allowed: officers },
  assignPendingDose: { query: `mutation($id: ID!) { assignPendingDose(id: "${NO_ID}", residentId: $id) { userErrors { code } } }`, allowed: officers },
  dismissPendingDose: { query: `mutation { dismissPendingDose(id: "${NO_ID}", reason: "r") { userErrors { code } } }`, allowed: officers },
  scanTicket: { query: '{ scanTicket(ticket: { municipalityCode: "131016", ticketNumber: "0000000000" }) { status doses { doseNumber } } }', allowed: ['site'] },
  registerDose: {
    query: 'mutation { registerDose(input: { ticket: { ocrLine: "1x" }, doseNumber: 1, vaccinatedOn: "2024-01-01", vaccineCode: "X", lotNumber: "A", idempotencyKey: "k" }) { userErrors { code } } }',
    allowed: ['site'],
  },
  doseReceipt: { query: `{ doseReceipt(id: "${NO_ID}") { id } }`, allowed: ['site'] },
  vaccines: { query: '{ vaccines { code manufacturer product } }', allowed: signedIn },
  ticketEligibility: { query: '{ ticketEligibility(municipalityCode: "131016", ticketNumber: "0000000000", birthDate: "1980-01-01") { status } }', allowed: ['integrator'] },
  integratorContracts: { query: '{ integratorContracts { municipalityCode } }', allowed: ['integrator', 'operator'] },
  createIntegratorContract: { query: `mutation { createIntegratorContract(integratorAccountId: "${NO_ID}", municipalityCode: "131016") { userErrors { code } } }`, allowed: ['operator'] },
  deleteIntegratorContract: { query: `mutation { deleteIntegratorContract(integratorAccountId: "${NO_ID}", municipalityCode: "131016") { userErrors { code } } }`, allowed: ['operator'] },
  statisticsOfNation: { query: '{ statistics(scope: { kind: NATION }) { totalDoses { value } } }', allowed: ['prefecture', 'national'] },
  statisticsOfPrefecture: { query: '{ statistics(scope: { kind: PREFECTURE, code: "13" }) { bySex { label value } } }', allowed: ['prefecture', 'national'] },
  statisticsOfMunicipality: {
    query: 'query($code: String) { statistics(scope: { kind: MUNICIPALITY, code: $code }) { coverage { doseNumber ratio } } }',
    allowed: ['municipality/LGWAN', 'municipality/internet', 'prefecture', 'national'],
  },
};

const callers: Caller[] = ['anonymous', 'municipality/LGWAN', 'municipality/internet', 'site', 'prefecture', 'national', 'integrator', 'operator', 'issued password'];
const refusalOf = (caller: Caller) => (caller === 'anonymous' ? 'UNAUTHENTICATED' : caller === 'issued password' ? 'PASSWORD_CHANGE_REQUIRED' : 'FORBIDDEN');

describe('role × operation matrix', () => {
  const sessions = new Map<Caller, Session | null>();
  let residentId: string;
  let municipalityCode: string;

  beforeAll(async () => {
    const { code, officer } = await t.tenant();
    residentId = (await registerResident(officer)).id;
    municipalityCode = code;
    sessions.set('anonymous', null);
    sessions.set('municipality/LGWAN', officer);
    sessions.set('municipality/internet', await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code }));
    sessions.set('site', await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: code }));
    sessions.set('prefecture', await t.session(Role.PREFECTURE, Channel.LGWAN, { prefectureCode: '13' }));
    sessions.set('national', await t.session(Role.NATIONAL, Channel.LGWAN));
    sessions.set('integrator', await t.session(Role.INTEGRATOR, Channel.INTERNET));
    sessions.set('operator', await t.session(Role.OPERATOR, Channel.LGWAN));
    const issued = await t.app.services.accounts.create(
      { requestId: 'test', channel: 'CLI', actor: null },
      { loginId: `issued-${process.pid}-${Date.now()}`, password: PASSWORD, role: Role.MUNICIPALITY, displayName: 'issued', municipalityCode: code },
    );
    const login = await t.login(Channel.LGWAN, issued.loginId);
    sessions.set('issued password', t.sessionFor(login.data.login.accessToken, Channel.LGWAN, issued, code));
  });

  const cases = Object.entries(operations).flatMap(([name, op]) => callers.map((caller) => [name, caller, op.allowed.includes(caller)] as const));

  it.each(cases)('%s by %s → allowed: %s', async (name, caller, allowed) => {
    const session = sessions.get(caller);
    const { query } = operations[name];
    const variables = { id: residentId, input: residentInput(), code: municipalityCode };
    const used = Object.fromEntries(Object.entries(variables).filter(([key]) => query.includes(`$${key}`)));
    const result = session ? await session.gql(query, used) : await t.request(Channel.LGWAN, query, used);
    const refusal = codes(result).filter((c) => c === 'FORBIDDEN' || c === 'UNAUTHENTICATED' || c === 'PASSWORD_CHANGE_REQUIRED');
    if (allowed) {
      expect(refusal).toEqual([]);
      expect(result.data).toBeTruthy();
    } else {
      expect(refusal).toEqual([refusalOf(caller)]);
    }
  });
});
