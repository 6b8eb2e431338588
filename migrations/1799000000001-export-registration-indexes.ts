import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexesConcurrently, dropIndexes, IndexDefinition } from './concurrent-indexes';

/**
 * An export by registration date lists the records registered in the range, those superseded or
 * entered in error in it, and those of residents changed in it after they were registered. Each of
 * the three is now read through an index on its own time, so a day's pull reads that day's rows
 * instead of every record of the municipality:
 *
 * - vaccination_record_created_idx (municipality_code, created_at): one more entry per record, at
 *   the end of its municipality's, as records are written in time order;
 * - vaccination_record_status_changed_idx (municipality_code, status_changed_at), partial: only the
 *   records corrected or entered in error have a time there;
 * - resident_updated_idx (municipality_code, updated_at): on every resident, not only those changed
 *   since registered (updated_at > created_at), as a record matched by the import that creates its
 *   resident is older than the resident and the pull lists it when the resident's time is in range.
 *   An import writes one entry per resident, all with the import's one time, which B-tree keeps as
 *   one key with a list of rows; a resident changed afterwards moves to the end.
 *
 * Built CONCURRENTLY, as the operation log's search indexes are (see 1798900000000): a plain build
 * would hold off every registration and import while it read the table.
 */
const INDEXES: IndexDefinition[] = [
  ['vaccination_record_created_idx', 'vaccination_record (municipality_code, created_at)'],
  ['vaccination_record_status_changed_idx', 'vaccination_record (municipality_code, status_changed_at) WHERE status_changed_at IS NOT NULL'],
  ['resident_updated_idx', 'resident (municipality_code, updated_at)'],
];

export class ExportRegistrationIndexes1799000000001 implements MigrationInterface {
  name = 'ExportRegistrationIndexes1799000000001';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await createIndexesConcurrently(db, INDEXES);
  }

  async down(db: QueryRunner): Promise<void> {
    await dropIndexes(db, INDEXES);
  }
}
