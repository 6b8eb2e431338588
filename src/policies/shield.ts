import { subject } from '@casl/ability';
import { GraphQLObjectType, GraphQLSchema } from 'graphql';
import { allow, deny, IRule, rule, shield } from 'graphql-shield';

type ShieldRule = IRule | typeof allow;
import { Context } from '../context';
import { forbidden, notAuthenticated, passwordChangeRequired } from '../errors';
import { Action, SubjectName } from './ability';
import { canInOwnTenant, refusal } from './scope';

/**
 * Which GraphQL fields each actor may resolve. Every type lists every field explicitly; `*` and
 * the fallback deny whatever is not listed, so a new field stays closed until a rule names it,
 * and `tests/policies/coverage.test.ts` fails until it does.
 *
 * Rules here are type-level gates read from the ability; which rows a caller sees is decided in
 * SQL from the same ability (scope.ts). Rules are never cached: each call evaluates afresh.
 */

/**
 * Why the caller may not work at all, or null if it may: no valid token, or a password the operator
 * issued that its holder has not replaced yet (the ability grants such an account nothing either).
 */
export const notWorking = (ctx: Context) => (!ctx.actor ? notAuthenticated() : ctx.actor.mustChangePassword ? passwordChangeRequired() : null);

/** Signed in, also with a password the operator issued: enough to replace it and to see who one is. */
const anySignedIn = rule({ cache: 'no_cache' })((_parent, _args, ctx: Context) => (ctx.actor ? true : notAuthenticated()));

/** Signed in with a password of the holder's own. */
const signedIn = rule({ cache: 'no_cache' })((_parent, _args, ctx: Context) => notWorking(ctx) ?? true);

/** The actor may perform `action` on some `subject` (rows are narrowed later, in SQL). */
const can = (action: Action, name: SubjectName) =>
  rule({ cache: 'no_cache' })((_parent, _args, ctx: Context) => notWorking(ctx) ?? (ctx.ability.can(action, name) || refusal(ctx, action, name)));

/** The actor may perform `action` on this particular parent object, judged by its own fields. */
const canOnParent = (action: Action, name: SubjectName) =>
  rule({ cache: 'no_cache' })((parent: Record<string, unknown>, _args, ctx: Context) =>
    notWorking(ctx) ?? (ctx.ability.can(action, subject(name, { ...parent })) || refusal(ctx, action, name, parent)));

/** The actor may perform `action` on `subject` inside its own municipality (officer operations; never a site's by-ticket reach). */
const inOwnTenant = (action: Action, name: SubjectName) =>
  rule({ cache: 'no_cache' })((_parent, _args, ctx: Context) =>
    notWorking(ctx) ?? (canInOwnTenant(ctx, action, name) || refusal(ctx, action, name, { municipalityCode: ctx.actor?.municipalityCode })));

/** A type whose listed fields share one rule and whose unlisted fields are denied. */
const fields = (names: string[], gate: ShieldRule) => ({ '*': deny, ...Object.fromEntries(names.map((n) => [n, gate])) });

const readResident = can('read', 'Resident');
const readAccount = can('read', 'Account');
// Which scope a caller may read is checked by the service against the same ability.
const readStatistics = can('read', 'Statistics');
const payloadFields = (data: string, gate: ShieldRule) => fields([data, 'userErrors'], gate);

export const ruleTree = {
  Query: {
    '*': deny,
    // Who one is, and whether the password must be changed first: open to any signed-in account.
    viewer: anySignedIn,
    municipality: can('read', 'Municipality'),
    municipalities: can('read', 'Municipality'),
    residents: readResident,
    resident: readResident,
    residentByMyNumber: can('read', 'MyNumber'),
    accounts: readAccount,
    auditEvents: can('read', 'AuditEvent'),
    functionSuspensions: can('read', 'FunctionSuspension'),
    securityAlerts: can('read', 'SecurityAlert'),
    tickets: inOwnTenant('read', 'Ticket'),
    ticketByNumber: inOwnTenant('read', 'Ticket'),
    vaccinationRecord: inOwnTenant('read', 'VaccinationRecord'),
    pendingDoses: inOwnTenant('read', 'PendingDose'),
    // Tablet: scan any municipality's ticket by exact reference; read back only its own receipts.
    scanTicket: can('scan', 'Ticket'),
    doseReceipt: can('register', 'VaccinationRecord'),
    vaccines: signedIn,
    ticketEligibility: can('check', 'Eligibility'),
    integratorContracts: can('read', 'IntegratorContract'),
    importJob: can('read', 'ImportJob'),
    importJobs: can('read', 'ImportJob'),
    statistics: readStatistics,
  },
  Mutation: {
    '*': deny,
    // Anyone may try to sign in; the service throttles and locks.
    login: allow,
    // Every account replaces its own password, and only its own (the service takes it from the token).
    changePassword: anySignedIn,
    registerResident: can('create', 'Resident'),
    updateResident: can('update', 'Resident'),
    markResidentMovedOut: can('update', 'Resident'),
    markResidentDeceased: can('update', 'Resident'),
    // Undoing a mark is the owning municipality's, as the mark is.
    clearResidentStatus: can('update', 'Resident'),
    deleteResident: can('delete', 'Resident'),
    createAccount: can('create', 'Account'),
    disableAccount: can('update', 'Account'),
    enableAccount: can('update', 'Account'),
    resetAccountPassword: can('update', 'Account'),
    suspendFunction: can('create', 'FunctionSuspension'),
    resumeFunction: can('delete', 'FunctionSuspension'),
    issueTickets: inOwnTenant('create', 'Ticket'),
    voidTicket: inOwnTenant('update', 'Ticket'),
    registerDose: can('register', 'VaccinationRecord'),
    recordDose: inOwnTenant('create', 'VaccinationRecord'),
    correctVaccinationRecord: inOwnTenant('update', 'VaccinationRecord'),
    deleteVaccinationRecord: inOwnTenant('delete', 'VaccinationRecord'),
    assignPendingDose: inOwnTenant('update', 'PendingDose'),
    dismissPendingDose: inOwnTenant('update', 'PendingDose'),
    createIntegratorContract: can('create', 'IntegratorContract'),
    deleteIntegratorContract: can('delete', 'IntegratorContract'),
  },
  LoginPayload: fields(['accessToken', 'expiresInSeconds', 'mustChangePassword', 'viewer'], allow),
  Viewer: fields(['accountId', 'role', 'channel', 'displayName', 'municipality', 'prefectureCode', 'mustChangePassword'], allow),
  ChangePasswordPayload: payloadFields('accountId', anySignedIn),
  Municipality: fields(
    ['code', 'prefectureCode', 'name', 'nameKana', 'acceptsCertificateEIssuance', 'acceptsConsentlessInquiry'],
    allow,
  ),
  Resident: {
    ...fields(
      [
        'id', 'municipalityCode', 'municipality', 'addresseeNumber', 'familyName', 'givenName', 'familyNameKana',
        'givenNameKana', 'birthDate', 'sex', 'status', 'movedOutOn', 'movedToMunicipalityCode', 'deceasedOn',
        'statusClearedReason', 'createdAt', 'updatedAt',
      ],
      canOnParent('read', 'Resident'),
    ),
    // My Number: the owning municipality over LG-WAN only; never a tablet, never the internet channel.
    myNumber: canOnParent('read', 'MyNumber'),
    tickets: canOnParent('read', 'Ticket'),
    vaccinations: canOnParent('read', 'VaccinationRecord'),
  },
  ResidentConnection: fields(['nodes', 'pageInfo'], readResident),
  PageInfo: fields(['hasNextPage', 'endCursor'], signedIn),
  ResidentPayload: payloadFields('resident', signedIn),
  DeleteResidentPayload: payloadFields('deletedResidentId', signedIn),
  Account: fields(
    ['id', 'loginId', 'role', 'municipalityCode', 'prefectureCode', 'displayName', 'mustChangePassword', 'disabledAt', 'lockedUntil', 'createdAt'],
    readAccount,
  ),
  AccountConnection: fields(['nodes', 'endCursor'], readAccount),
  AccountPayload: payloadFields('account', signedIn),
  UserError: fields(['field', 'code', 'message'], allow),
  AuditEvent: fields(
    ['id', 'occurredAt', 'requestId', 'actorId', 'role', 'channel', 'municipalityCode', 'operation', 'targetIds', 'outcome', 'seq'],
    can('read', 'AuditEvent'),
  ),
  AuditEventConnection: fields(['nodes', 'endCursor'], can('read', 'AuditEvent')),
  FunctionSuspension: fields(['id', 'function', 'municipalityCode', 'reason', 'suspendedBy', 'suspendedAt'], can('read', 'FunctionSuspension')),
  SuspensionPayload: payloadFields('suspension', signedIn),
  ResumePayload: payloadFields('resumedSuspensionId', signedIn),
  SecurityAlert: fields(['id', 'occurredAt', 'kind', 'actorId', 'municipalityCode', 'sourceAddress', 'detail'], can('read', 'SecurityAlert')),
  Ticket: fields(
    ['municipalityCode', 'id', 'residentId', 'ticketNumber', 'ocrLine', 'series', 'issuedOn', 'voidedOn', 'voidReason'],
    canOnParent('read', 'Ticket'),
  ),
  TicketConnection: fields(['nodes', 'pageInfo'], inOwnTenant('read', 'Ticket')),
  IssueTicketsPayload: fields(['issuedCount', 'tickets', 'matchedPendingDoses', 'userErrors'], signedIn),
  TicketPayload: payloadFields('ticket', signedIn),
  VaccinationRecord: fields(
    [
      'municipalityCode', 'id', 'residentId', 'doseNumber', 'vaccinatedOn', 'vaccineCode', 'manufacturer', 'product', 'lotNumber',
      'siteMunicipalityCode', 'venue', 'doctorName', 'source', 'status', 'statusReason', 'statusChangedAt', 'statusChangedBy', 'supersededBy',
      'recordedBy', 'createdAt',
    ],
    canOnParent('read', 'VaccinationRecord'),
  ),
  VaccinationRecordPayload: payloadFields('record', signedIn),
  PendingDose: fields(
    [
      'municipalityCode', 'id', 'ticketNumber', 'doseNumber', 'vaccinatedOn', 'vaccineCode', 'manufacturer', 'product', 'lotNumber',
      'siteMunicipalityCode', 'venue', 'doctorName', 'status', 'matchProblem', 'vaccinationRecordId', 'resolvedAt', 'resolutionReason', 'createdAt',
    ],
    canOnParent('read', 'PendingDose'),
  ),
  PendingDosePayload: payloadFields('pendingDose', signedIn),
  // The tablet's types carry no personal data fields at all.
  TicketScan: fields(['status', 'message', 'municipalityCode', 'ticketNumber', 'series', 'nextDoseNumber', 'doses'], can('scan', 'Ticket')),
  DoseSummary: fields(['doseNumber', 'vaccinatedOn', 'manufacturer'], can('scan', 'Ticket')),
  DoseReceipt: fields(
    [
      'id', 'status', 'message', 'municipalityCode', 'ticketNumber', 'doseNumber', 'vaccinatedOn', 'vaccineCode', 'manufacturer', 'product',
      'lotNumber', 'siteMunicipalityCode', 'venue', 'doctorName', 'registeredAt',
    ],
    can('register', 'VaccinationRecord'),
  ),
  RegisterDosePayload: payloadFields('receipt', signedIn),
  VaccineProduct: fields(['code', 'manufacturer', 'product', 'productJa'], signedIn),
  TicketEligibility: fields(['status', 'nextDoseNumber', 'nextDoseAllowedFrom'], can('check', 'Eligibility')),
  IntegratorContract: fields(['municipalityCode', 'integratorAccountId', 'createdAt'], canOnParent('read', 'IntegratorContract')),
  IntegratorContractPayload: payloadFields('contract', signedIn),
  ImportJob: fields(
    [
      'id', 'municipalityCode', 'mode', 'status', 'phase', 'encoding', 'bytesRead', 'bytesTotal', 'progress', 'rowsRead',
      'rowsAccepted', 'rowsRejected', 'residentsInserted', 'residentsUpdated', 'ticketsInserted', 'ticketsUpdated', 'failureReason',
      'createdAt', 'startedAt', 'finishedAt', 'rejections',
    ],
    canOnParent('read', 'ImportJob'),
  ),
  ImportRejectionList: fields(['nodes', 'hasNextPage', 'endCursor', 'complete'], can('read', 'ImportJob')),
  ImportRejection: fields(['line', 'column', 'field', 'code', 'message'], can('read', 'ImportJob')),
  Statistics: fields(
    [
      'scope', 'from', 'to', 'suppressionThreshold', 'registeredPopulation', 'totalDoses', 'coverage', 'dosesByDay',
      'byDoseNumber', 'byManufacturer', 'byAgeBand', 'bySex',
    ],
    readStatistics,
  ),
  // Reachable only through the Statistics fields above, which are gated; a daily series has
  // thousands of these cells, and a rule per cell would cost more than the query.
  StatisticsScope: fields(['kind', 'code', 'name'], allow),
  StatisticsCount: fields(['value', 'suppressed'], allow),
  StatisticsCell: fields(['label', 'value', 'suppressed'], allow),
  CoverageCell: fields(['doseNumber', 'people', 'ratio'], allow),
  DailySeries: fields(['dates', 'counts', 'countsSuppressed', 'cumulative', 'cumulativeSuppressed'], allow),
};

export const permissions = shield(ruleTree, {
  fallbackRule: deny,
  fallbackError: forbidden,
  allowExternalErrors: true,
  debug: false,
});

/** `Type.field` of every object field in the schema that no rule names explicitly. */
export function fieldsWithoutRule(schema: GraphQLSchema): string[] {
  const tree: Record<string, Record<string, unknown>> = ruleTree;
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || type.name.startsWith('__')) continue;
    // Own keys only: a field named toString or valueOf is not ruled by what every object inherits.
    const rules = Object.hasOwn(tree, type.name) ? tree[type.name] : {};
    for (const field of Object.keys(type.getFields())) {
      if (!Object.hasOwn(rules, field)) missing.push(`${type.name}.${field}`);
    }
  }
  return missing;
}
