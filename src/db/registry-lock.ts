import type { Queryable } from '../services/audit.service';

const key = (municipalityCode: string) => `resident-import:${municipalityCode}`;

/**
 * Holds, until the transaction ends, a municipality's registry lock. Taken by whatever issues
 * its tickets or checks its residents as a whole: a registry import from its checks to its
 * commit (so it sees every resident under one key version), each key re-encryption batch, and
 * ticket issuance.
 */
export async function lockRegistry(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key(municipalityCode)]);
}

/**
 * Shared with other holders of the same: taken by a site about to file a dose as pending on a
 * ticket it did not find, which then looks again. Ticket issuance in flight commits first, so a
 * ticket cannot be issued unseen beside a pending dose that its issuance did not match.
 */
export async function shareRegistryLock(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))', [key(municipalityCode)]);
}
