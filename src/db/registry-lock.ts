import { ErrorCode, InputError } from '../errors';
import type { Queryable } from '../services/audit.service';

const registryKey = (municipalityCode: string) => `resident-import:${municipalityCode}`;
const keyVersionKey = (municipalityCode: string) => `key-version:${municipalityCode}`;

/**
 * Holds, until the transaction ends, the locks a registry import takes from its checks to its
 * commit: the registry lock, which ticket issuance also holds, and the key-version lock, which
 * each key re-encryption batch holds (so the import sees every resident under one key version).
 * Always in this order; requests, which may already hold row locks, only try the registry lock
 * (below), so no lock cycle can form.
 */
export async function lockRegistry(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [registryKey(municipalityCode)]);
  await lockKeyVersions(db, municipalityCode);
}

/** Held by a key re-encryption batch: a running import compares My Numbers under one key version. */
export async function lockKeyVersions(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [keyVersionKey(municipalityCode)]);
}

/** Takes the registry lock for ticket issuance if no one holds it; false if an import or another issuance does. */
export async function tryLockRegistry(db: Queryable, municipalityCode: string): Promise<boolean> {
  const rows = await db.query('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', [registryKey(municipalityCode)]);
  return (rows as { locked: boolean }[])[0].locked;
}

/**
 * Shares the registry lock if no one holds it exclusively: a site about to file a dose as pending
 * on a ticket it did not find takes it, then looks again. While an issuance is in flight it gets
 * false, and does not file a pending dose that issuance would not see.
 */
export async function tryShareRegistryLock(db: Queryable, municipalityCode: string): Promise<boolean> {
  const rows = await db.query('SELECT pg_try_advisory_xact_lock_shared(hashtextextended($1, 0)) AS locked', [registryKey(municipalityCode)]);
  return (rows as { locked: boolean }[])[0].locked;
}

/**
 * For an officer's change that an issuance or import under way could contradict (a ticket it is
 * writing unseen): shares the registry lock, or asks the officer to try again (INVALID_STATE on `field`).
 */
export async function shareRegistryLockOrRetry(db: Queryable, municipalityCode: string, field: string[]): Promise<void> {
  if (!(await tryShareRegistryLock(db, municipalityCode))) {
    throw InputError.of(field, ErrorCode.INVALID_STATE, 'tickets of this municipality are being issued or imported right now: try again in a minute');
  }
}
