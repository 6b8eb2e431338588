import { AbilityBuilder, createMongoAbility, ForcedSubject, MongoAbility } from '@casl/ability';
import { Actor } from '../auth/actor';
import { Channel, Role } from '../schema/enums';

export type Action = 'read' | 'create' | 'update' | 'delete' | 'scan' | 'register' | 'check' | 'import' | 'export';
export type SubjectName =
  | 'Municipality' | 'Resident' | 'MyNumber' | 'Account' | 'AuditEvent' | 'FunctionSuspension' | 'SecurityAlert'
  | 'Ticket' | 'VaccinationRecord' | 'PendingDose' | 'IntegratorContract' | 'Eligibility' | 'ImportJob' | 'Statistics';
export type AppAbility = MongoAbility<[Action, SubjectName | (Record<string, unknown> & ForcedSubject<SubjectName>)]>;

/**
 * The municipalities whose rows a request may touch in the database before any service widens
 * it for an operation the policy allowed (row-level security's `vrs.tenants`): a municipality
 * officer's own. A site's tablet gets none, not even its own municipality's: it reaches one
 * ticket at a time, through the services that widen to it.
 */
export function tenantsOf(actor: Actor | null): string[] {
  return actor?.role === Role.MUNICIPALITY && actor.municipalityCode && !actor.mustChangePassword ? [actor.municipalityCode] : [];
}

/**
 * What each actor may do, per role, tenant and channel (DESIGN.md §1, §5). Anything not granted
 * here is refused. Conditions are equalities on columns only, so that `scope.ts` can turn them
 * into SQL.
 */
export function defineAbilityFor(actor: Actor | null): AppAbility {
  const { can, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
  if (!actor) return build();
  // A password the operator issued opens nothing until its holder has replaced it: otherwise the
  // operator, who holds no tenant data (DESIGN.md §1), could sign in as any officer it created.
  if (actor.mustChangePassword) return build();

  // Municipality codes and names are public reference data.
  can('read', 'Municipality');

  switch (actor.role) {
    case Role.MUNICIPALITY: {
      const own = { municipalityCode: actor.municipalityCode };
      // A municipality reads and changes the residents of its own tenant, and nothing of another's.
      can(['read', 'create', 'update', 'delete'], 'Resident', own);
      // My Number lives in the area reachable only over LG-WAN, never from the internet channel.
      if (actor.channel === Channel.LGWAN) {
        // Read, and entered ('update') when a resident is registered or corrected.
        can(['read', 'update'], 'MyNumber', own);
        // A registry file carries My Number, so only the LG-WAN terminal imports it, into its own tenant only.
        can('import', 'Resident', own);
        // The import report (line, column, reason) is read where the import was made.
        can('read', 'ImportJob', own);
      }
      // A municipality downloads its own vaccination records as CSV; the file never holds My Number.
      can('export', 'VaccinationRecord', own);
      // A municipality reads the operation log of its own tenant.
      can('read', 'AuditEvent', own);
      // A municipality issues, looks up and voids the tickets of its own residents only.
      can(['read', 'create', 'update'], 'Ticket', own);
      // A municipality enters, corrects and deletes records in its own tenant, including doses that
      // a site elsewhere gave its residents; the site's municipality cannot change them afterwards.
      can(['read', 'create', 'update', 'delete'], 'VaccinationRecord', own);
      // Doses waiting for one of its tickets (接種対象者登録待ち) are the issuing municipality's to resolve.
      can(['read', 'update'], 'PendingDose', own);
      // A municipality sees the aggregate statistics of its own tenant only.
      can('read', 'Statistics', own);
      break;
    }
    case Role.OPERATOR:
      // The system operator issues, disables and enables accounts, resets their passwords and reads the operation log; no tenant data.
      can(['read', 'create', 'update'], 'Account');
      can('read', 'AuditEvent');
      // Only the operator stops and resumes functions in an emergency, and sees intrusion alerts.
      can(['read', 'create', 'delete'], 'FunctionSuspension');
      can('read', 'SecurityAlert');
      // The operator records which municipalities contracted which integrator.
      can(['read', 'create', 'delete'], 'IntegratorContract');
      break;
    case Role.VACCINATION_SITE: {
      // Cross-tenant by design (接種地 ≠ 住所地): a site scans any municipality's ticket and
      // registers a dose into the ticket's municipality, but only by exact ticket reference, and
      // only through VaccinationService.scan/register (the one place that reaches another tenant).
      // ('register' = by ticket; 'create' = officer entry for a resident, which a site never has.)
      can('scan', 'Ticket');
      can('register', 'VaccinationRecord');
      // A ticket its municipality has not registered yet: the dose waits there (接種対象者登録待ち).
      can('create', 'PendingDose');
      // Afterwards a site reads back only the receipts of what its own account registered.
      const ownRecords = { recordedBy: actor.accountId };
      can('read', 'VaccinationRecord', ownRecords);
      break;
    }
    case Role.INTEGRATOR: {
      // An integrator sees only its own contracts, and checks eligibility in those municipalities only.
      const ownContracts = { integratorAccountId: actor.accountId };
      can('read', 'IntegratorContract', ownContracts);
      can('check', 'Eligibility');
      break;
    }
    case Role.PREFECTURE: {
      const ownPrefecture = { prefectureCode: actor.prefectureCode };
      const nation = { kind: 'NATION' };
      // A prefecture sees the statistics of itself and of the municipalities in it (DESIGN.md §1) ...
      can('read', 'Statistics', ownPrefecture);
      // ... and the national totals; never a row of personal data.
      can('read', 'Statistics', nation);
      break;
    }
    case Role.NATIONAL:
      // The national government sees aggregate statistics of any scope; never a row of personal data.
      can('read', 'Statistics');
      break;
    default: {
      const unknown: never = actor.role;
      throw new Error(`no ability defined for role ${String(unknown)}`);
    }
  }
  return build();
}
