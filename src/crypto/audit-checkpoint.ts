import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * The key that signs the operation log's checkpoints. It derives from MASTER_KEY, which the
 * database never holds: whoever owns the database can rewrite a chain, its hashes and its head,
 * but cannot sign a checkpoint of the result.
 */
export const checkpointKey = (masterKey: Buffer): Buffer =>
  Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'vrs:audit-checkpoint', 32));

/** A chain's last event as a checkpoint records it. */
export interface CheckpointHead {
  chain: string;
  seq: string;
  hash: Buffer;
}

/**
 * The hash of the heads a checkpoint records: a line per chain, ordered by chain name byte by byte. The database
 * computes the same (audit.service's checkpoint query), so verifying reads 32 bytes a checkpoint.
 */
export function headsHash(heads: CheckpointHead[]): Buffer {
  const sorted = [...heads].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  return createHash('sha256').update(sorted.map((h) => `${h.chain} ${h.seq} ${h.hash.toString('hex')}\n`).join('')).digest();
}

export interface CheckpointLink {
  digest: Buffer;
  mac: Buffer;
}

/**
 * What a checkpoint's MAC signs: its own content and the previous checkpoint's digest and MAC.
 * The link is a plain hash, so that a checkpoint signed under a master key since retired is still
 * held in place by every later one signed under the current key.
 */
export function checkpointDigest(previous: CheckpointLink | null, scope: string, position: number, takenAt: Date, heads: Buffer): Buffer {
  return createHash('sha256')
    .update(previous?.digest ?? Buffer.alloc(0))
    .update(previous?.mac ?? Buffer.alloc(0))
    .update(`${scope}\n${position}\n${takenAt.toISOString()}\n`)
    .update(heads)
    .digest();
}

/** 128 bits: short enough to copy into an operations diary. */
export const checkpointMac = (key: Buffer, digest: Buffer): Buffer => createHmac('sha256', key).update(digest).digest().subarray(0, 16);

export const macMatches = (key: Buffer, digest: Buffer, mac: Buffer): boolean =>
  mac.length === 16 && timingSafeEqual(checkpointMac(key, digest), mac);
