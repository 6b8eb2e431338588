import { randomBytes } from 'node:crypto';
import { EntityManager, In } from 'typeorm';
import { TenantKey } from '../entities/tenant-key.entity';
import { open, seal, TenantKeys } from './tenant-keys';

export { TenantKeys } from './tenant-keys';

// How long a process trusts its idea of a municipality's newest key version, so that a rotation
// done elsewhere is picked up without a restart.
export const ACTIVE_VERSION_TTL_MS = 60_000;

const wrapLabel = (code: string, version: number) => `tenant-key:${code}:v${version}`;

/**
 * Per-municipality data keys, every version kept, each wrapped by the master key. New data is
 * written with the newest version; older versions stay readable until a re-encryption job has
 * moved every row off them. During a master-key change, `previousMasterKey` still unwraps keys
 * the rotation job has not re-wrapped yet.
 */
export class TenantKeyring {
  private readonly keys = new Map<string, TenantKeys>();
  private readonly active = new Map<string, { version: number; checkedAt: number }>();

  constructor(private readonly masterKey: Buffer, private readonly previousMasterKey?: Buffer) {}

  private unwrap(row: TenantKey): TenantKeys {
    const label = wrapLabel(row.municipalityCode, row.keyVersion);
    let secret: Buffer;
    try {
      secret = open(this.masterKey, row.wrappedKey, label);
    } catch (error) {
      if (!this.previousMasterKey) throw error;
      secret = open(this.previousMasterKey, row.wrappedKey, label);
    }
    const keys = new TenantKeys(row.municipalityCode, row.keyVersion, secret);
    this.keys.set(`${row.municipalityCode}:${row.keyVersion}`, keys);
    return keys;
  }

  /** The newest key of a municipality, created on first use. */
  async keysFor(db: EntityManager, municipalityCode: string): Promise<TenantKeys> {
    const known = this.active.get(municipalityCode);
    if (known && Date.now() - known.checkedAt < ACTIVE_VERSION_TTL_MS) return this.keysForVersion(db, municipalityCode, known.version);
    const repo = db.getRepository(TenantKey);
    let row = await repo.findOne({ where: { municipalityCode }, order: { keyVersion: 'DESC' } });
    if (!row) {
      await db.query(
        'INSERT INTO tenant_key (municipality_code, key_version, wrapped_key) VALUES ($1, 1, $2) ON CONFLICT DO NOTHING',
        [municipalityCode, seal(this.masterKey, randomBytes(32), wrapLabel(municipalityCode, 1))],
      );
      row = await repo.findOneOrFail({ where: { municipalityCode }, order: { keyVersion: 'DESC' } });
    }
    this.active.set(municipalityCode, { version: row.keyVersion, checkedAt: Date.now() });
    return this.keys.get(`${municipalityCode}:${row.keyVersion}`) ?? this.unwrap(row);
  }

  /** A specific version, for reading data written under it. */
  async keysForVersion(db: EntityManager, municipalityCode: string, version: number): Promise<TenantKeys> {
    const cached = this.keys.get(`${municipalityCode}:${version}`);
    if (cached) return cached;
    return this.unwrap(await db.getRepository(TenantKey).findOneByOrFail({ municipalityCode, keyVersion: version }));
  }

  /** Every version's keys, newest first: an equality look-up must try each until re-encryption is done. */
  async allVersions(db: EntityManager, municipalityCode: string): Promise<TenantKeys[]> {
    await this.keysFor(db, municipalityCode);
    const rows = await db.getRepository(TenantKey).find({ where: { municipalityCode }, order: { keyVersion: 'DESC' } });
    return rows.map((row) => this.keys.get(`${municipalityCode}:${row.keyVersion}`) ?? this.unwrap(row));
  }

  /** Adds a new newest version for a municipality and returns it. */
  async rotate(db: EntityManager, municipalityCode: string): Promise<TenantKeys> {
    const current = await this.keysFor(db, municipalityCode);
    const version = current.version + 1;
    await db.query('INSERT INTO tenant_key (municipality_code, key_version, wrapped_key) VALUES ($1, $2, $3)', [
      municipalityCode, version, seal(this.masterKey, randomBytes(32), wrapLabel(municipalityCode, version)),
    ]);
    this.active.delete(municipalityCode);
    return this.keysFor(db, municipalityCode);
  }

  /** Re-wraps stored data keys (all, or some municipalities') under `newMasterKey` and names them; data is untouched. */
  async rewrap(db: EntityManager, newMasterKey: Buffer, only?: string[]): Promise<{ municipalityCode: string; keyVersion: number }[]> {
    const rows = await db.getRepository(TenantKey).find({
      where: only ? { municipalityCode: In(only) } : {},
      order: { municipalityCode: 'ASC', keyVersion: 'ASC' },
    });
    for (const row of rows) {
      const label = wrapLabel(row.municipalityCode, row.keyVersion);
      const secret = open(this.masterKey, row.wrappedKey, label);
      await db.query('UPDATE tenant_key SET wrapped_key = $3 WHERE municipality_code = $1 AND key_version = $2', [
        row.municipalityCode, row.keyVersion, seal(newMasterKey, secret, label),
      ]);
    }
    return rows.map(({ municipalityCode, keyVersion }) => ({ municipalityCode, keyVersion }));
  }
}
