import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { EntityManager, In } from 'typeorm';
import { TenantKey } from '../entities/tenant-key.entity';

const IV = 12;
const TAG = 16;
// How long a process trusts its idea of a municipality's newest key version, so that a rotation
// done elsewhere is picked up without a restart.
const ACTIVE_VERSION_TTL_MS = 60_000;

// IVs are drawn from the CSPRNG in blocks: one call per 4,096 encryptions instead of one each,
// which matters when a registry import encrypts millions of numbers.
const IV_BLOCK = IV * 4096;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

function nextIv(): Buffer {
  if (ivOffset + IV > ivPool.length) {
    ivPool = randomBytes(IV_BLOCK);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV);
  ivOffset += IV;
  return iv;
}

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV)).setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(IV, IV + TAG));
  return Buffer.concat([decipher.update(sealed.subarray(IV + TAG)), decipher.final()]);
}

const wrapLabel = (code: string, version: number) => `tenant-key:${code}:v${version}`;

/** One version of a municipality's keys for My Number: AES-256-GCM for storage, HMAC-SHA256 for look-ups. */
export class TenantKeys {
  private readonly encryptionKey: Buffer;
  private readonly lookupKey: Buffer;

  constructor(readonly municipalityCode: string, readonly version: number, secret: Buffer) {
    this.encryptionKey = Buffer.from(hkdfSync('sha256', secret, municipalityCode, 'my-number-encryption', 32));
    this.lookupKey = Buffer.from(hkdfSync('sha256', secret, municipalityCode, 'my-number-lookup', 32));
  }

  /** The ciphertext is bound to its municipality: copied into another tenant it does not open. */
  encrypt(myNumber: string): Buffer {
    return seal(this.encryptionKey, Buffer.from(myNumber), this.municipalityCode);
  }

  decrypt(cipher: Buffer): string {
    return open(this.encryptionKey, cipher, this.municipalityCode).toString();
  }

  lookupHash(myNumber: string): Buffer {
    return createHmac('sha256', this.lookupKey).update(myNumber).digest();
  }
}

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

  /** Re-wraps stored data keys (all, or some municipalities') under `newMasterKey`; data is untouched. */
  async rewrap(db: EntityManager, newMasterKey: Buffer, only?: string[]): Promise<number> {
    const rows = await db.getRepository(TenantKey).find(only ? { where: { municipalityCode: In(only) } } : {});
    for (const row of rows) {
      const label = wrapLabel(row.municipalityCode, row.keyVersion);
      const secret = open(this.masterKey, row.wrappedKey, label);
      await db.query('UPDATE tenant_key SET wrapped_key = $3 WHERE municipality_code = $1 AND key_version = $2', [
        row.municipalityCode, row.keyVersion, seal(newMasterKey, secret, label),
      ]);
    }
    return rows.length;
  }
}
