import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexesConcurrently, dropIndexes, IndexDefinition } from './concurrent-indexes';

/**
 * Every server, as it starts, records as FAILED the imports a dead process left QUEUED or RUNNING,
 * in every municipality; each import does the same for its own first. Import jobs are kept for
 * good, one for every file a municipality ever sent, and with no index on their status the start
 * read them all: 1,000,000 jobs (a thousand municipalities' daily imports for three years, 258 MB)
 * took 0.2 s from memory and more from disk, at every restart, growing with every import.
 *
 * import_job_unfinished_idx holds only the jobs still QUEUED or RUNNING, a few at any time, so the
 * start reads those alone. It indexes the municipality, which a job's heartbeat never changes:
 * heartbeats stay HOT updates. Built CONCURRENTLY (see 1798900000000), so running imports go on
 * writing their heartbeats meanwhile.
 */
const INDEXES: IndexDefinition[] = [
  ['import_job_unfinished_idx', "import_job (municipality_code) WHERE status IN ('QUEUED', 'RUNNING')"],
];

export class UnfinishedImportIndex1800300000000 implements MigrationInterface {
  name = 'UnfinishedImportIndex1800300000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await createIndexesConcurrently(db, INDEXES);
  }

  async down(db: QueryRunner): Promise<void> {
    await dropIndexes(db, INDEXES);
  }
}
