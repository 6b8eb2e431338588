import DataLoader from 'dataloader';
import { EntityManager, In, ObjectLiteral } from 'typeorm';
import { ImportJob } from './entities/import-job.entity';
import { ImportRejection } from './entities/import-rejection.entity';
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

/** A page of an import's rejection report: the rows after `after` (one more than asked, to tell if another page follows). */
export interface RejectionPageKey { job: ImportJob; first: number; after: number }
/**
 * Pages of several jobs' rejection reports, for jobs the caller may already read: one query per
 * page size and cursor, however many jobs. A report's `seq` runs 1, 2, … so a page is a range.
 */
function rejectionPages(db: () => Promise<EntityManager>) {
  return new DataLoader<RejectionPageKey, ImportRejection[], string>(async (keys) => {
    const pages = new Map<string, ImportRejection[]>();
    const cursorOf = (k: RejectionPageKey) => `${k.first}:${k.after}`;
    for (const group of groupByKey([...new Set(keys.map(cursorOf))], [...keys], cursorOf)) {
      const { first, after } = group[0];
      const jobs = { codes: group.map((k) => k.job.municipalityCode), ids: group.map((k) => k.job.id) };
      const ofJobs = '(x.municipality_code, x.job_id) IN (SELECT * FROM unnest(CAST(:codes AS char(6)[]), CAST(:ids AS uuid[])))';
      const repo = (await db()).getRepository(ImportRejection);
      const rows = await repo.createQueryBuilder('x').where(ofJobs, jobs)
        .andWhere('x.seq > :after AND x.seq <= CAST(:last AS bigint)', { after, last: after + first + 1 })
        .orderBy('x.seq').getMany();
      const rowsOf = groupByKey(jobs.ids, rows, (r) => r.jobId);
      group.forEach((key, i) => pages.set(pageKey(key), rowsOf[i]));
    }
    return keys.map((key) => pages.get(pageKey(key))!);
  }, { cacheKeyFn: pageKey });
}

const pageKey = (key: RejectionPageKey) => `${key.job.municipalityCode}:${key.job.id}:${key.first}:${key.after}`;

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
    rejectionPages: rejectionPages(db),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

/** Forgets every cached row, so that a later read of the request sees what a write changed. */
export function clearLoaders(loaders: Loaders): void {
  for (const loader of Object.values(loaders)) loader.clearAll();
}
