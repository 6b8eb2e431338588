import { DataSource } from 'typeorm';
import { TenantKeyring } from '../crypto/tenant-keyring';
import { asTenants } from '../db/tenant-session';

/**
 * Key management jobs for operators. Nothing stops serving while they run: readers decrypt
 * with whichever version a row names, look-ups try every version, and writers use the newest.
 */
export class KeyRotationService {
  constructor(private readonly db: DataSource, private readonly keyring: TenantKeyring) {}

  /** Starts a new data-key version for a municipality and moves its residents onto it, in batches. */
  async rotateTenantKey(municipalityCode: string, batchSize = 1000): Promise<{ version: number; reencrypted: number }> {
    const keys = await asTenants(this.db, [municipalityCode], (tx) => this.keyring.rotate(tx, municipalityCode));
    return { version: keys.version, reencrypted: await this.reencrypt(municipalityCode, batchSize) };
  }

  /** Re-encrypts rows still under an older version; safe to re-run, and to run beside live traffic. */
  async reencrypt(municipalityCode: string, batchSize = 1000): Promise<number> {
    let total = 0;
    for (;;) {
      const moved = await asTenants(this.db, [municipalityCode], async (tx) => {
        const newest = await this.keyring.keysFor(tx, municipalityCode);
        const rows: { id: string; my_number_cipher: Buffer; key_version: number }[] = await tx.query(
          `SELECT id, my_number_cipher, key_version FROM resident
           WHERE municipality_code = $1 AND key_version < $2 LIMIT $3 FOR UPDATE SKIP LOCKED`,
          [municipalityCode, newest.version, batchSize],
        );
        for (const row of rows) {
          const old = await this.keyring.keysForVersion(tx, municipalityCode, row.key_version);
          const myNumber = old.decrypt(row.my_number_cipher);
          await tx.query(
            'UPDATE resident SET my_number_cipher = $3, my_number_hmac = $4, key_version = $5 WHERE municipality_code = $1 AND id = $2',
            [municipalityCode, row.id, newest.encrypt(myNumber), newest.lookupHash(myNumber), newest.version],
          );
        }
        return rows.length;
      });
      total += moved;
      if (moved < batchSize) return total;
    }
  }

  /** Re-wraps every data key (or some municipalities') under a new master key in one transaction. */
  rotateMasterKey(newMasterKey: Buffer, only?: string[]): Promise<number> {
    return this.db.transaction((tx) => this.keyring.rewrap(tx, newMasterKey, only));
  }
}
