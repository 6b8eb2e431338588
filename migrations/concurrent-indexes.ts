import { QueryRunner } from 'typeorm';

/** An index's name, and what follows ON in its CREATE INDEX: the table, the columns, a predicate. */
export type IndexDefinition = [name: string, on: string];

/**
 * Builds each index CONCURRENTLY, from a migration run outside a transaction (`transaction =
 * false`): a plain build would hold off every write to the table while it read it whole. A build
 * that failed leaves an invalid index behind, which the next run drops first.
 */
export async function createIndexesConcurrently(db: QueryRunner, indexes: IndexDefinition[]): Promise<void> {
  for (const [name, on] of indexes) {
    await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    await db.query(`CREATE INDEX CONCURRENTLY ${name} ON ${on}`);
  }
}

/** Drops them plainly: TypeORM reverts a migration inside a transaction, where CONCURRENTLY is not allowed. */
export async function dropIndexes(db: QueryRunner, indexes: IndexDefinition[]): Promise<void> {
  for (const [name] of indexes) await db.query(`DROP INDEX IF EXISTS ${name}`);
}
