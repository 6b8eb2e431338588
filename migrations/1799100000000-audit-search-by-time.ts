import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexesConcurrently, dropIndexes, IndexDefinition } from './concurrent-indexes';

/**
 * auditEvents lists the newest events first by the time they happened (occurred_at, then id: the
 * events of one statement share its time), and its indexes end in (occurred_at, id) instead of id: a
 * window of dates (`from`, `to`) is then a range of the index the search reads, however far in the
 * past, where through (…, id) a window of last year read every newer event of the municipality first
 * (64 ms among 300,000, growing with the log), and a page is the next entries of the index.
 *
 * - (municipality_code, …): an officer's page, and the operator's of one municipality;
 * - (municipality_code, actor_id, …) and (municipality_code, operation, …): the same by actor or operation;
 * - (actor_id, …), (operation, …) and (occurred_at, id) alone: the operator's.
 *
 * As the indexes of 1798900000000, which these replace, they hold linked events only (seq IS NOT
 * NULL), each written once, at its link. They also replace the two plain indexes of the foundation,
 * (municipality_code, occurred_at) and (occurred_at), which every event was written into twice (at
 * its insert and at its link): the archive, which moves linked events older than a date, reads the
 * partial (occurred_at) as well. An event now goes into six index entries of these instead of nine.
 *
 * Built CONCURRENTLY, outside a transaction, each before the ones it replaces are dropped, so that
 * no search is left without its index meanwhile; a build that failed leaves an invalid index, which
 * the next run drops first. Reverting builds the old ones back plainly (TypeORM reverts a migration
 * inside a transaction, where CONCURRENTLY is not allowed).
 */
const INDEXES: IndexDefinition[] = [
  ['audit_event_municipality_time_idx', 'audit_event (municipality_code, occurred_at, id) WHERE seq IS NOT NULL'],
  ['audit_event_municipality_actor_time_idx', 'audit_event (municipality_code, actor_id, occurred_at, id) WHERE seq IS NOT NULL'],
  ['audit_event_municipality_operation_time_idx', 'audit_event (municipality_code, operation, occurred_at, id) WHERE seq IS NOT NULL'],
  ['audit_event_actor_time_idx', 'audit_event (actor_id, occurred_at, id) WHERE seq IS NOT NULL'],
  ['audit_event_operation_time_idx', 'audit_event (operation, occurred_at, id) WHERE seq IS NOT NULL'],
  ['audit_event_time_idx', 'audit_event (occurred_at, id) WHERE seq IS NOT NULL'],
];
const REPLACED: IndexDefinition[] = [
  ['audit_event_municipality_id_idx', 'audit_event (municipality_code, id) WHERE seq IS NOT NULL'],
  ['audit_event_municipality_actor_idx', 'audit_event (municipality_code, actor_id, id) WHERE seq IS NOT NULL'],
  ['audit_event_municipality_operation_idx', 'audit_event (municipality_code, operation, id) WHERE seq IS NOT NULL'],
  ['audit_event_actor_idx', 'audit_event (actor_id, id) WHERE seq IS NOT NULL'],
  ['audit_event_operation_idx', 'audit_event (operation, id) WHERE seq IS NOT NULL'],
  ['audit_event_municipality_idx', 'audit_event (municipality_code, occurred_at)'],
  ['audit_event_occurred_idx', 'audit_event (occurred_at)'],
];

export class AuditSearchByTime1799100000000 implements MigrationInterface {
  name = 'AuditSearchByTime1799100000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await createIndexesConcurrently(db, INDEXES);
    for (const [name] of REPLACED) await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const [name, on] of REPLACED) await db.query(`CREATE INDEX IF NOT EXISTS ${name} ON ${on}`);
    await dropIndexes(db, INDEXES);
  }
}
