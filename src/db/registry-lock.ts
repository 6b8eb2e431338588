import type { Queryable } from '../services/audit.service';

/**
 * Holds, until the transaction ends, the lock that a municipality's registry imports take
 * before checking the tenant, and that key re-encryption takes for each batch: an import sees
 * every resident under one key version, from its checks to its commit.
 */
export async function lockRegistry(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`resident-import:${municipalityCode}`]);
}
