import DataLoader from 'dataloader';
import { EntityManager, In, ObjectLiteral } from 'typeorm';
import { Municipality } from './entities/municipality.entity';
import { Ticket } from './entities/ticket.entity';
import { VaccinationRecord } from './entities/vaccination-record.entity';
import { AppAbility, defineAbilityFor, SubjectName } from './policies/ability';
import { applyScope, scopeOf } from './policies/scope';

/** Rows in the order of the keys asked for; a missing key yields null. */
export function byKey<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const map = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => map.get(key) ?? null);
}

/** Rows grouped under the keys asked for, in key order; a key without rows yields []. */
export function groupByKey<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): V[][] {
  const map = new Map<K, V[]>(keys.map((key) => [key, []]));
  for (const row of rows) map.get(keyOf(row))?.push(row);
  return keys.map((key) => map.get(key) ?? []);
}

/**
 * A resident's rows of one tenant table: one query per batch, `In(ids)` AND the caller's read
 * scope, so a resident of another tenant simply has none.
 */
function perResident<T extends ObjectLiteral & { residentId: string }>(
  db: () => Promise<EntityManager>, ability: AppAbility, entity: new () => T, subject: SubjectName, order: string[],
) {
  return new DataLoader<string, T[]>(async (residentIds) => {
    const scope = scopeOf(ability, 'read', subject);
    if (!scope) return residentIds.map(() => []);
    const query = applyScope((await db()).getRepository(entity).createQueryBuilder('x'), scope)
      .andWhere({ residentId: In([...residentIds]) });
    order.forEach((column, i) => (i === 0 ? query.orderBy(`x.${column}`) : query.addOrderBy(`x.${column}`)));
    return groupByKey(residentIds, await query.getMany(), (row) => row.residentId);
  });
}

/**
 * Per-request loaders: one batch query per relation per tick, and a cache that dies with the
 * request so that no caller ever sees another request's rows.
 */
export function createLoaders(db: () => Promise<EntityManager>, ability: AppAbility = defineAbilityFor(null)) {
  return {
    municipality: new DataLoader<string, Municipality | null>(async (codes) =>
      byKey(codes, await (await db()).getRepository(Municipality).findBy({ code: In([...codes]) }), (m) => m.code),
    ),
    ticketsByResident: perResident(db, ability, Ticket, 'Ticket', ['issuedOn', 'ticketNumber']),
    recordsByResident: perResident(db, ability, VaccinationRecord, 'VaccinationRecord', ['doseNumber', 'createdAt']),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
