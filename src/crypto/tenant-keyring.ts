import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { TenantKey } from '../entities/tenant-key.entity';

const IV = 12;
const TAG = 16;

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

/** One municipality's keys for My Number: AES-256-GCM for storage, HMAC-SHA256 for look-ups. */
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
 * Per-municipality data keys wrapped by the master key. A municipality's key is created on
 * first use; unwrapped keys are cached for the life of the process.
 */
export class TenantKeyring {
  private readonly cache = new Map<string, TenantKeys>();

  constructor(private readonly masterKey: Buffer) {}

  async keysFor(db: EntityManager, municipalityCode: string): Promise<TenantKeys> {
    const cached = this.cache.get(municipalityCode);
    if (cached) return cached;
    const repo = db.getRepository(TenantKey);
    let row = await repo.findOneBy({ municipalityCode });
    if (!row) {
      const wrapped = seal(this.masterKey, randomBytes(32), `tenant-key:${municipalityCode}`);
      await repo.createQueryBuilder().insert().values({ municipalityCode, keyVersion: 1, wrappedKey: wrapped }).orIgnore().execute();
      row = await repo.findOneByOrFail({ municipalityCode });
    }
    const keys = new TenantKeys(municipalityCode, row.keyVersion, open(this.masterKey, row.wrappedKey, `tenant-key:${municipalityCode}`));
    this.cache.set(municipalityCode, keys);
    return keys;
  }
}
