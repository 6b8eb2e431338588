import type { Queryable } from '../services/audit.service';

const key = (municipalityCode: string) => `resident-import:${municipalityCode}`;

/**
 * A municipality's registry lock, held until the transaction ends by whatever writes its tickets
 * or checks its residents as a whole: a registry import from its checks to its commit (so it sees
 * every resident under one key version), each key re-encryption batch, and ticket issuance. The
 * import and re-encryption take it before any row lock and wait for it; requests, which may
 * already hold row locks, only try it (below), so no lock cycle can form.
 */
export async function lockRegistry(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key(municipalityCode)]);
}

/** Takes the lock if no one holds it; false if an import or another issuance does. */
export async function tryLockRegistry(db: Queryable, municipalityCode: string): Promise<boolean> {
  const rows = await db.query('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', [key(municipalityCode)]);
  return (rows as { locked: boolean }[])[0].locked;
}

/**
 * Shares the lock if no one holds it exclusively: a site about to file a dose as pending on a
 * ticket it did not find takes it, then looks again. While an issuance is in flight it gets
 * false, and does not file a pending dose that issuance would not see.
 */
export async function tryShareRegistryLock(db: Queryable, municipalityCode: string): Promise<boolean> {
  const rows = await db.query('SELECT pg_try_advisory_xact_lock_shared(hashtextextended($1, 0)) AS locked', [key(municipalityCode)]);
  return (rows as { locked: boolean }[])[0].locked;
}
