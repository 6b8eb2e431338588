import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexesConcurrently, dropIndexes, IndexDefinition } from './concurrent-indexes';

/**
 * auditEvents lists the newest events first, a page at a time (ORDER BY id DESC LIMIT first), of
 * the reader's municipality or of all (the operator), by actor or by operation. Each of these
 * searches gets an index that hands out its events in that order, so a page reads about a page:
 * without them, a search by actor or operation scanned the nation's log, and an officer's page
 * walked the primary key past every other municipality's events, longest for a small town.
 *
 * - (municipality_code, id): an officer's page, and the operator's of one municipality;
 * - (municipality_code, actor_id, id) and (municipality_code, operation, id): the same by actor or
 *   operation. An actor may act in many municipalities (an integrator, a site, the operator), so
 *   (actor_id, id) alone would walk its events everywhere to find a few of this one's;
 * - (actor_id, id) and (operation, id): the operator's, across municipalities.
 *
 * Every search lists linked events only (seq IS NOT NULL), so the indexes hold only those: an
 * event is inserted unlinked and linked by an UPDATE at commit, which writes a new version of the
 * row into every index that covers it; a partial index is written once per event, not twice.
 * audit_event_municipality_idx (municipality_code, occurred_at) stays: searches within dates in
 * the past still read their window through it.
 *
 * Built CONCURRENTLY, outside a transaction: a plain build would hold off every event, and so
 * every request that writes one, while it read the whole log. A build that failed leaves an
 * invalid index behind, which the next run drops first. Reverting drops them plainly: TypeORM
 * reverts a migration inside a transaction, where CONCURRENTLY is not allowed.
 */
const INDEXES: IndexDefinition[] = [
  ['audit_event_municipality_id_idx', 'audit_event (municipality_code, id) WHERE seq IS NOT NULL'],
  ['audit_event_municipality_actor_idx', 'audit_event (municipality_code, actor_id, id) WHERE seq IS NOT NULL'],
  ['audit_event_municipality_operation_idx', 'audit_event (municipality_code, operation, id) WHERE seq IS NOT NULL'],
  ['audit_event_actor_idx', 'audit_event (actor_id, id) WHERE seq IS NOT NULL'],
  ['audit_event_operation_idx', 'audit_event (operation, id) WHERE seq IS NOT NULL'],
];

export class AuditSearchIndexes1798900000000 implements MigrationInterface {
  name = 'AuditSearchIndexes1798900000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await createIndexesConcurrently(db, INDEXES);
  }

  async down(db: QueryRunner): Promise<void> {
    await dropIndexes(db, INDEXES);
  }
}
