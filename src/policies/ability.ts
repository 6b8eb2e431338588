import { AbilityBuilder, createMongoAbility, ForcedSubject, MongoAbility } from '@casl/ability';
import { Actor } from '../auth/actor';
import { Channel, Role } from '../schema/enums';

export type Action = 'read' | 'create' | 'update' | 'delete';
export type SubjectName = 'Municipality' | 'Resident' | 'MyNumber' | 'Account' | 'AuditEvent' | 'Statistics';
export type AppAbility = MongoAbility<[Action, SubjectName | (Record<string, unknown> & ForcedSubject<SubjectName>)]>;

/**
 * What each actor may do, per role, tenant and channel (DESIGN.md §1, §5). Anything not granted
 * here is refused. Conditions are equalities on columns only, so that `scope.ts` can turn them
 * into SQL.
 */
export function defineAbilityFor(actor: Actor | null): AppAbility {
  const { can, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
  if (!actor) return build();

  // Municipality codes and names are public reference data.
  can('read', 'Municipality');

  switch (actor.role) {
    case Role.MUNICIPALITY: {
      const own = { municipalityCode: actor.municipalityCode };
      // A municipality reads and changes the residents of its own tenant, and nothing of another's.
      can(['read', 'create', 'update', 'delete'], 'Resident', own);
      // My Number lives in the area reachable only over LG-WAN, never from the internet channel.
      if (actor.channel === Channel.LGWAN) can('read', 'MyNumber', own);
      // A municipality reads the operation log of its own tenant.
      can('read', 'AuditEvent', own);
      // A municipality sees the aggregate statistics of its own tenant only.
      can('read', 'Statistics', own);
      break;
    }
    case Role.OPERATOR:
      // The system operator issues and disables accounts and reads the operation log; no tenant data.
      can(['read', 'create', 'update'], 'Account');
      can('read', 'AuditEvent');
      break;
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
    case Role.VACCINATION_SITE:
    case Role.INTEGRATOR:
      // Sites and integrators reach no resident row: their operations come with their features.
      break;
    default: {
      const unknown: never = actor.role;
      throw new Error(`no ability defined for role ${String(unknown)}`);
    }
  }
  return build();
}
