import { subject } from '@casl/ability';
import { Brackets, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { Actor } from '../auth/actor';
import { GraphQLError } from 'graphql';
import { forbidden, lgwanOnly } from '../errors';
import { Channel } from '../schema/enums';
import { Action, AppAbility, defineAbilityFor, SubjectName } from './ability';

export type Scope = Record<string, string | number | boolean | null>[];

/**
 * Turns the ability's rules for (action, subject) into SQL conditions: a list of column
 * equalities joined by OR. `null` means nothing is permitted; callers then run no query at all.
 * `[{}]` means every row. Only equality conditions and no inverted rules are supported, and
 * anything else throws rather than silently widening the query.
 */
export function scopeOf(ability: AppAbility, action: Action, subject: SubjectName): Scope | null {
  const rules = ability.rulesFor(action, subject);
  if (rules.some((r) => r.inverted)) throw new Error(`inverted rules are not supported for ${action} ${subject}`);
  if (rules.length === 0) return null;
  return rules.map((rule) => {
    const conditions = (rule.conditions ?? {}) as Record<string, unknown>;
    for (const [key, value] of Object.entries(conditions)) {
      if (value !== null && typeof value === 'object') throw new Error(`condition ${key} of ${subject} is not an equality`);
    }
    return conditions as Scope[number];
  });
}

/** Restricts a query to the rows the scope permits. */
export function applyScope<T extends ObjectLiteral>(query: SelectQueryBuilder<T>, scope: Scope): SelectQueryBuilder<T> {
  const alias = query.alias;
  return query.andWhere(
    new Brackets((or) => {
      scope.forEach((conditions, i) => {
        const clause = new Brackets((and) => {
          and.where('TRUE');
          for (const [key, value] of Object.entries(conditions)) {
            const param = `scope_${i}_${key}`;
            and.andWhere(`${alias}.${key} = :${param}`, { [param]: value });
          }
        });
        if (i === 0) or.where(clause);
        else or.orWhere(clause);
      });
    }),
  );
}

/** Whether a scope reaches every row, whatever its tenant (a rule without conditions: the operator's reading of the operation log). */
export const reachesEveryTenant = (scope: Scope): boolean => scope.some((conditions) => Object.keys(conditions).length === 0);

type Caller = { actor: Actor | null; ability: AppAbility };

/** Whether the caller may `action` `name` inside its own municipality (false without one). */
export function canInOwnTenant(caller: Caller, action: Action, name: SubjectName): boolean {
  const own: Record<string, unknown> = { municipalityCode: caller.actor?.municipalityCode };
  return !!own.municipalityCode && caller.ability.can(action, subject(name, own));
}

/**
 * The caller's own municipality, when the ability lets it `action` `subject` there; otherwise a
 * FORBIDDEN error. For writes that always land in the caller's own tenant (register, record,
 * issue, import, export).
 */
export function ownMunicipalityFor(caller: Caller, action: Action, name: SubjectName): string {
  if (!canInOwnTenant(caller, action, name)) throw refusal(caller, action, name, { municipalityCode: caller.actor?.municipalityCode });
  return caller.actor!.municipalityCode!;
}

/** The caller's ability as it would be over LG-WAN, by request. */
const lgwanAbilities = new WeakMap<Caller, AppAbility>();

/**
 * The refusal of `action` on `name` (or on `row`, judged by its fields): a caller whose account
 * would be let over LG-WAN is told that the channel is why; anyone else gets the bare refusal.
 */
export function refusal(caller: Caller, action: Action, name: SubjectName, row?: Record<string, unknown>): GraphQLError {
  const actor = caller.actor;
  if (actor?.channel !== Channel.INTERNET) return forbidden();
  // Built once per request: a page of residents is refused My Number once per row.
  let overLgwan = lgwanAbilities.get(caller);
  if (!overLgwan) lgwanAbilities.set(caller, (overLgwan = defineAbilityFor({ ...actor, channel: Channel.LGWAN })));
  return overLgwan.can(action, row ? subject(name, { ...row }) : name) ? lgwanOnly() : forbidden();
}
