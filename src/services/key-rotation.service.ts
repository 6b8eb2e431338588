import { DataSource } from 'typeorm';
import { TenantKeyring } from '../crypto/tenant-keyring';
import { lockKeyVersions } from '../db/registry-lock';
import { asTenants } from '../db/tenant-session';
import { AUDIT_BATCH, AuditSource, writeAudit } from './audit.service';

/**
 * Key management jobs for operators. Nothing stops serving while they run: readers decrypt
 * with whichever version a row names, look-ups try every version, and writers use the newest.
 * Each transaction that changes keys or re-encrypts residents logs what it did in the same
 * commit: the municipality, the key version, how many and which rows, never a number or a key.
 */
export class KeyRotationService {
  constructor(private readonly db: DataSource, private readonly keyring: TenantKeyring) {}

  /** Starts a new data-key version for a municipality and moves its residents onto it, in batches. */
  async rotateTenantKey(source: AuditSource, municipalityCode: string, batchSize = 1000): Promise<{ version: number; reencrypted: number }> {
    const version = await this.newKeyVersion(source, municipalityCode);
    return { version, reencrypted: await this.reencrypt(source, municipalityCode, batchSize) };
  }

  /** Adds a new data-key version for a municipality, which its writers use from then on; returns it once committed. */
  async newKeyVersion(source: AuditSource, municipalityCode: string): Promise<number> {
    const keys = await asTenants(this.db, [municipalityCode], async (tx) => {
      // An import past its checks writes under the version it staged with, unseen by a registration
      // under a newer one: the new version waits for its commit, and a later import sees it and stops.
      await lockKeyVersions(tx, municipalityCode);
      const created = await this.keyring.rotate(tx, municipalityCode);
      await writeAudit(tx, source, [{ operation: 'tenantKey.rotate', municipalityCode, targetIds: [`version:${created.version}`], outcome: 'SUCCESS' }]);
      return created;
    });
    return keys.version;
  }

  /**
   * Re-encrypts rows still under an older version; safe to re-run, and to run beside live traffic.
   * Returns once none is left: rows another transaction holds are skipped by a batch and taken by
   * a later one. A resident's registration or My Number change is written under the newest version
   * (TenantKeyring.keysForWriting); the CLI's second pass a minute later, when every server has
   * noticed the rotation, only makes sure.
   */
  async reencrypt(source: AuditSource, municipalityCode: string, batchSize = 1000): Promise<number> {
    let total = 0;
    for (;;) {
      const { moved, left } = await asTenants(this.db, [municipalityCode], async (tx) => {
        // A running import compares My Numbers under one key version; a batch waits for its commit.
        await lockKeyVersions(tx, municipalityCode);
        const newest = await this.keyring.keysFor(tx, municipalityCode);
        const rows: { id: string; my_number_cipher: Buffer; key_version: number }[] = await tx.query(
          `SELECT id, my_number_cipher, key_version FROM resident
           WHERE municipality_code = $1 AND key_version < $2 LIMIT $3 FOR UPDATE SKIP LOCKED`,
          [municipalityCode, newest.version, batchSize],
        );
        const ciphers: Buffer[] = [];
        const hashes: Buffer[] = [];
        for (const row of rows) {
          const myNumber = (await this.keyring.keysForVersion(tx, municipalityCode, row.key_version)).decrypt(row.my_number_cipher);
          ciphers.push(newest.encrypt(myNumber));
          hashes.push(newest.lookupHash(myNumber));
        }
        // One statement per batch: the statistics trigger on resident runs once per statement.
        await tx.query(
          `UPDATE resident r SET my_number_cipher = n.cipher, my_number_hmac = n.hash, key_version = $2
           FROM unnest($3::uuid[], $4::bytea[], $5::bytea[]) AS n(id, cipher, hash)
           WHERE r.municipality_code = $1 AND r.id = n.id`,
          [municipalityCode, newest.version, rows.map((r) => r.id), ciphers, hashes],
        );
        // Logged with the batch, naming its residents as an import does: a resident's log shows the rewrite.
        const entries = [];
        for (let i = 0; i < rows.length; i += AUDIT_BATCH) {
          const ids = rows.slice(i, i + AUDIT_BATCH).map((r) => r.id);
          entries.push({
            operation: 'tenantKey.reencrypt', municipalityCode, targetIds: [`version:${newest.version}`, `count:${ids.length}`, ...ids], outcome: 'SUCCESS' as const,
          });
        }
        await writeAudit(tx, source, entries);
        if (rows.length === batchSize) return { moved: rows.length, left: true };
        const [rest] = await tx.query(
          'SELECT EXISTS (SELECT FROM resident WHERE municipality_code = $1 AND key_version < $2) AS left',
          [municipalityCode, newest.version],
        );
        return { moved: rows.length, left: rest.left as boolean };
      });
      total += moved;
      if (!left) return total;
      // What is left is held by other transactions (an officer's edit, a dose): they end soon.
      if (moved < batchSize) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * Re-wraps under the master key, in one transaction, every data key (or some municipalities')
   * still under the previous one; safe to re-run. Each municipality's chain logs the versions re-wrapped.
   */
  rotateMasterKey(source: AuditSource, only?: string[]): Promise<{ rewrapped: number; unchanged: number }> {
    return this.db.transaction(async (tx) => {
      const keys = await this.keyring.rewrap(tx, only);
      const moved = keys.filter((k) => k.rewrapped);
      const versions = new Map<string, number[]>();
      for (const key of moved) versions.set(key.municipalityCode, [...(versions.get(key.municipalityCode) ?? []), key.keyVersion]);
      await writeAudit(tx, source, [...versions].map(([municipalityCode, list]) => ({
        operation: 'tenantKey.rewrap', municipalityCode, targetIds: [...list.map((v) => `version:${v}`), `count:${list.length}`], outcome: 'SUCCESS' as const,
      })));
      return { rewrapped: moved.length, unchanged: keys.length - moved.length };
    });
  }
}
