import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexesConcurrently, dropIndexes, IndexDefinition } from './concurrent-indexes';

/**
 * residents(filter: { status }) and tickets(filter: { series }) list a page in the order of their
 * cursor (municipality_code, addressee_number or ticket_number). With only that order's index, a
 * search for a few rows (the deceased of a city, a series issued to a few hundred) walked the
 * municipality's residents or tickets to fill its page. Each search now gets an index on what it
 * searches, then the page's order:
 *
 * - resident_status_idx (status, municipality_code, addressee_number), partial: the registry
 *   import inserts every resident ACTIVE, and most residents stay so, so the index holds only those
 *   moved out or deceased. An import writes nothing into it, and a page of ACTIVE residents is
 *   rightly read by resident_addressee_number_key, where nearly every row matches;
 * - ticket_series_idx (municipality_code, series): which series is the rare one is not known ahead,
 *   so every ticket has an entry, one more for each ticket an import or an issuance inserts. An
 *   import's tickets share a series or a few, and entries of one key go in the order of their rows,
 *   so they are added at the end of their key's as the rows are: cheaper than (series,
 *   municipality_code, ticket_number), which hands out a page in order but takes each ticket in
 *   random order (about 3 µs a ticket, some 3 s of a million-row import). A rare series' tickets are
 *   read whole and sorted for a page; a common one is rightly read in page order through
 *   ticket_number_key, where most tickets match.
 *
 * The status leads the residents' index, so that a later page's cursor (addressee_number > ...,
 * within the municipality) is a condition of the scan too, and the page starts where the last one
 * ended instead of reading every earlier match again.
 *
 * Built CONCURRENTLY, outside a transaction, as the operation log's search indexes are: a plain
 * build would hold off the imports, issuances and registrations of every municipality while it
 * read the whole table. A build that failed leaves an invalid index behind, which the next run
 * drops first. Reverting drops them plainly: TypeORM reverts a migration inside a transaction.
 */
const INDEXES: IndexDefinition[] = [
  ['resident_status_idx', `resident (status, municipality_code, addressee_number) WHERE status <> 'ACTIVE'`],
  ['ticket_series_idx', 'ticket (municipality_code, series)'],
];

export class RareSearchIndexes1799000000000 implements MigrationInterface {
  name = 'RareSearchIndexes1799000000000';
  transaction = false;

  async up(db: QueryRunner): Promise<void> {
    await createIndexesConcurrently(db, INDEXES);
  }

  async down(db: QueryRunner): Promise<void> {
    await dropIndexes(db, INDEXES);
  }
}
