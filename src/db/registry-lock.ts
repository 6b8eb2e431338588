import { ErrorCode, InputError } from '../errors';
import type { Queryable } from '../services/audit.service';

const registryKey = (municipalityCode: string) => `resident-import:${municipalityCode}`;
/** How long a request keeps trying for the registry lock: another issuance holds it for moments, an import for minutes. */
const REGISTRY_PATIENCE_MS = 3_000;
const RETRY_EVERY_MS = 50;

/**
 * Tries `attempt` until it succeeds or REGISTRY_PATIENCE_MS have passed: officers issuing at
 * several counters at once take turns instead of being refused. Never waits on the lock itself,
 * so the row locks the request may already hold can form no cycle with it.
 */
async function tryAWhile(attempt: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + REGISTRY_PATIENCE_MS;
  while (!(await attempt())) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
  }
  return true;
}
const keyVersionKey = (municipalityCode: string) => `key-version:${municipalityCode}`;

/**
 * Holds, until the transaction ends, the locks a registry import takes from its checks to its
 * commit: the registry lock, which ticket issuance also holds, and the key-version lock, which
 * each key re-encryption batch holds (so the import sees every resident under one key version).
 * Always in this order; requests, which may already hold row locks, only try the registry lock
 * (below, for a few seconds), so no lock cycle can form.
 */
export async function lockRegistry(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [registryKey(municipalityCode)]);
  await lockKeyVersions(db, municipalityCode);
}

/** Held by a key re-encryption batch: a running import compares My Numbers under one key version. */
export async function lockKeyVersions(db: Queryable, municipalityCode: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [keyVersionKey(municipalityCode)]);
}

/** Takes the registry lock for ticket issuance; false if an import or another issuance holds it a while. */
export function tryLockRegistry(db: Queryable, municipalityCode: string): Promise<boolean> {
  return tryAWhile(async () => {
    const rows = await db.query('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', [registryKey(municipalityCode)]);
    return (rows as { locked: boolean }[])[0].locked;
  });
}

/**
 * Shares the registry lock unless someone holds it exclusively a while: a site about to file a dose
 * as pending on a ticket it did not find takes it, then looks again. While an issuance or import
 * holds it it gets false, and does not file a pending dose that one would not see.
 */
export function tryShareRegistryLock(db: Queryable, municipalityCode: string): Promise<boolean> {
  return tryAWhile(async () => {
    const rows = await db.query('SELECT pg_try_advisory_xact_lock_shared(hashtextextended($1, 0)) AS locked', [registryKey(municipalityCode)]);
    return (rows as { locked: boolean }[])[0].locked;
  });
}

/**
 * For an officer's change that an issuance or import under way could contradict (a ticket it is
 * writing unseen): shares the registry lock, or asks the officer to try again (INVALID_STATE on `field`).
 */
export async function shareRegistryLockOrRetry(db: Queryable, municipalityCode: string, field: string[],
  message = 'tickets of this municipality are being issued or imported right now: try again in a minute'): Promise<void> {
  if (!(await tryShareRegistryLock(db, municipalityCode))) throw InputError.of(field, ErrorCode.INVALID_STATE, message);
}
