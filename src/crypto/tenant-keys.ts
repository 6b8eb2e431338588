import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

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

export function seal(key: Buffer, plaintext: Buffer, aad: string | Buffer): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(typeof aad === 'string' ? Buffer.from(aad) : aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV)).setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(IV, IV + TAG));
  return Buffer.concat([decipher.update(sealed.subarray(IV + TAG)), decipher.final()]);
}

/**
 * The keys one version derives for My Number, without the secret they came from: what an import
 * worker thread receives, so that the master key and the data key's secret stay in the main thread.
 */
export interface DerivedKeys {
  municipalityCode: string;
  version: number;
  encryptionKey: Uint8Array;
  lookupKey: Uint8Array;
}

/**
 * One version of a municipality's keys for My Number: AES-256-GCM for storage, HMAC-SHA256 for
 * look-ups. Free of the database, so that worker threads can load it.
 */
export class TenantKeys {
  private readonly encryptionKey: Buffer;
  private readonly lookupKey: Buffer;
  private readonly aad: Buffer;

  constructor(readonly municipalityCode: string, readonly version: number, secret: Buffer | DerivedKeys) {
    if (Buffer.isBuffer(secret)) {
      this.encryptionKey = Buffer.from(hkdfSync('sha256', secret, municipalityCode, 'my-number-encryption', 32));
      this.lookupKey = Buffer.from(hkdfSync('sha256', secret, municipalityCode, 'my-number-lookup', 32));
    } else {
      this.encryptionKey = Buffer.from(secret.encryptionKey);
      this.lookupKey = Buffer.from(secret.lookupKey);
    }
    this.aad = Buffer.from(municipalityCode);
  }

  static fromDerived(keys: DerivedKeys): TenantKeys {
    return new TenantKeys(keys.municipalityCode, keys.version, keys);
  }

  /** Only the derived keys, for a worker thread that encrypts on this version's behalf. */
  derived(): DerivedKeys {
    return { municipalityCode: this.municipalityCode, version: this.version, encryptionKey: Buffer.from(this.encryptionKey), lookupKey: Buffer.from(this.lookupKey) };
  }

  /** The ciphertext is bound to its municipality: copied into another tenant it does not open. */
  encrypt(myNumber: string): Buffer {
    return seal(this.encryptionKey, Buffer.from(myNumber), this.aad);
  }

  decrypt(cipher: Buffer): string {
    return open(this.encryptionKey, cipher, this.municipalityCode).toString();
  }

  lookupHash(myNumber: string): Buffer {
    return createHmac('sha256', this.lookupKey).update(myNumber).digest();
  }
}
