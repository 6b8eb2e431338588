import { randomBytes } from 'node:crypto';
import { EntityManager, In } from 'typeorm';
import { TenantKey } from '../entities/tenant-key.entity';
import { open, seal, TenantKeys } from './tenant-keys';

export { TenantKeys } from './tenant-keys';

// How long a process trusts its idea of a municipality's newest key version, so that a rotation
// done elsewhere is picked up without a restart.
export const ACTIVE_VERSION_TTL_MS = 60_000;

const wrapLabel = (code: string, version: number) => `tenant-key:${code}:v${version}`;

/** Shared by writers while they write under the newest version, taken alone by a rotation adding one. */
const writeLockKey = (code: string) => `key-version-write:${code}`;

/**
 * Per-municipality data keys, every version kept, each wrapped by the master key. New data is
 * written with the newest version; older versions stay readable until a re-encryption job has
 * moved every row off them. During a master-key change, `previousMasterKey` still unwraps keys
 * the rotation job has not re-wrapped yet.
 */
export class TenantKeyring {
  private readonly keys = new Map<string, TenantKeys>();
  private readonly active = new Map<string, { version: number; checkedAt: number }>();
  /**
   * Keys being looked up, per transaction: a page of residents asks for its municipality's key once
   * per row, all at once, and one statement answers them all. Never shared between requests, so one
   * request's failed transaction fails none of the others.
   */
  private readonly opening = new WeakMap<EntityManager, Map<string, Promise<TenantKeys>>>();

  constructor(private readonly masterKey: Buffer, private readonly previousMasterKey?: Buffer) {}

  /** A data key's secret, and whether only the previous master key opened it; undefined when neither does. */
  private openWrapped(row: TenantKey): { secret: Buffer; underPrevious: boolean } | undefined {
    const label = wrapLabel(row.municipalityCode, row.keyVersion);
    for (const [masterKey, underPrevious] of [[this.masterKey, false], [this.previousMasterKey, true]] as const) {
      if (!masterKey) continue;
      try {
        return { secret: open(masterKey, row.wrappedKey, label), underPrevious };
      } catch {
        // Wrapped by the other master key, or by none configured here.
      }
    }
    return undefined;
  }

  private unwrap(row: TenantKey): TenantKeys {
    const opened = this.openWrapped(row);
    if (!opened) throw new Error(`the data key of municipality ${row.municipalityCode} (version ${row.keyVersion}) opens with neither MASTER_KEY nor PREVIOUS_MASTER_KEY`);
    const keys = new TenantKeys(row.municipalityCode, row.keyVersion, opened.secret);
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

  /**
   * The newest key, for a transaction about to write My Number under it. Read from the table, not
   * the cached version, under a lock a rotation takes to add a version: the row is then either
   * committed before the new version exists, so the rotation's re-encryption finds it, or written
   * under the new version. Under the cached version, a write begun in the last moment of a
   * rotation's wait could commit after its last pass and stay under the old key.
   */
  async keysForWriting(tx: EntityManager, municipalityCode: string): Promise<TenantKeys> {
    await tx.query('SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))', [writeLockKey(municipalityCode)]);
    this.active.delete(municipalityCode);
    return this.keysFor(tx, municipalityCode);
  }

  /** A specific version, for reading data written under it. */
  async keysForVersion(db: EntityManager, municipalityCode: string, version: number): Promise<TenantKeys> {
    const id = `${municipalityCode}:${version}`;
    const cached = this.keys.get(id);
    if (cached) return cached;
    const waiting = this.opening.get(db) ?? new Map<string, Promise<TenantKeys>>();
    this.opening.set(db, waiting);
    let keys = waiting.get(id);
    if (!keys) {
      keys = db.getRepository(TenantKey).findOneByOrFail({ municipalityCode, keyVersion: version })
        .then((row) => this.unwrap(row))
        .finally(() => waiting.delete(id));
      waiting.set(id, keys);
    }
    return keys;
  }

  /** Every version's keys, newest first: an equality look-up must try each until re-encryption is done. */
  async allVersions(db: EntityManager, municipalityCode: string): Promise<TenantKeys[]> {
    await this.keysFor(db, municipalityCode);
    const rows = await db.getRepository(TenantKey).find({ where: { municipalityCode }, order: { keyVersion: 'DESC' } });
    return rows.map((row) => this.keys.get(`${municipalityCode}:${row.keyVersion}`) ?? this.unwrap(row));
  }

  /** Adds a new newest version for a municipality and returns it. */
  async rotate(db: EntityManager, municipalityCode: string): Promise<TenantKeys> {
    // Waits for writers under the current version to commit: what they wrote is then there to re-encrypt.
    await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [writeLockKey(municipalityCode)]);
    const current = await this.keysFor(db, municipalityCode);
    const version = current.version + 1;
    await db.query('INSERT INTO tenant_key (municipality_code, key_version, wrapped_key) VALUES ($1, $2, $3)', [
      municipalityCode, version, seal(this.masterKey, randomBytes(32), wrapLabel(municipalityCode, version)),
    ]);
    this.active.delete(municipalityCode);
    return this.keysFor(db, municipalityCode);
  }

  /**
   * Re-wraps under the master key every stored data key (all, or some municipalities') that opens
   * only with the previous one, and names them all; data is untouched. Safe to re-run: a key the
   * master key opens already is left. Until the transaction ends no key can be created (a server
   * creating one waits), so none slips past the re-wrap under a master key about to be dropped.
   */
  async rewrap(db: EntityManager, only?: string[]): Promise<{ municipalityCode: string; keyVersion: number; rewrapped: boolean }[]> {
    await db.query('LOCK TABLE tenant_key IN SHARE ROW EXCLUSIVE MODE');
    const rows = await db.getRepository(TenantKey).find({
      where: only ? { municipalityCode: In(only) } : {},
      order: { municipalityCode: 'ASC', keyVersion: 'ASC' },
    });
    const keys = rows.map((row) => {
      const opened = this.openWrapped(row);
      if (!opened) throw new Error(`the data key of municipality ${row.municipalityCode} (version ${row.keyVersion}) opens with neither MASTER_KEY nor PREVIOUS_MASTER_KEY: nothing was re-wrapped`);
      const { municipalityCode, keyVersion } = row;
      return { municipalityCode, keyVersion, rewrapped: opened.underPrevious, secret: opened.secret };
    });
    const moved = keys.filter((key) => key.rewrapped);
    if (moved.length) await db.query(
      `UPDATE tenant_key k SET wrapped_key = n.wrapped_key
       FROM unnest($1::char(6)[], $2::integer[], $3::bytea[]) AS n(municipality_code, key_version, wrapped_key)
       WHERE k.municipality_code = n.municipality_code AND k.key_version = n.key_version`,
      [moved.map((k) => k.municipalityCode), moved.map((k) => k.keyVersion), moved.map((k) => seal(this.masterKey, k.secret, wrapLabel(k.municipalityCode, k.keyVersion)))],
    );
    return keys.map(({ municipalityCode, keyVersion, rewrapped }) => ({ municipalityCode, keyVersion, rewrapped }));
  }

  /**
   * Checks that every stored data key (or some municipalities') opens with a configured master key,
   * and returns the municipalities whose keys still need the previous one. A server checks at start:
   * a key that opens with neither would otherwise surface as a municipality's My Numbers lost.
   */
  async checkMasterKeys(db: EntityManager, only?: string[]): Promise<string[]> {
    const rows = await db.getRepository(TenantKey).find({ where: only ? { municipalityCode: In(only) } : {}, order: { municipalityCode: 'ASC' } });
    const unopened = new Set<string>();
    const underPrevious = new Set<string>();
    for (const row of rows) {
      const opened = this.openWrapped(row);
      if (!opened) unopened.add(row.municipalityCode);
      else if (opened.underPrevious) underPrevious.add(row.municipalityCode);
    }
    if (unopened.size > 0) {
      const codes = [...unopened];
      throw new Error(`data keys open with neither MASTER_KEY nor PREVIOUS_MASTER_KEY, so these municipalities' My Numbers could not be read: ${
        codes.slice(0, 10).join(', ')}${codes.length > 10 ? ', …' : ''} (${codes.length} in all); ${
        this.previousMasterKey
          ? 'set the master keys they were wrapped with'
          : 'if MASTER_KEY was changed, set PREVIOUS_MASTER_KEY to the former key, then run `npm run cli -- rotate-master-key` before removing it'}`);
    }
    return [...underPrevious];
  }
}
