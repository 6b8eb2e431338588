import { DataSource } from 'typeorm';
import { TokenSigner } from '../auth/token';
import { Config } from '../config';
import { TenantKeyring } from '../crypto/tenant-keyring';
import { AccountService } from './account.service';
import { AuthService } from './auth.service';
import { IntrusionDetector } from './intrusion.service';
import { KeyRotationService } from './key-rotation.service';
import { ReferenceService } from './reference.service';
import { ResidentService } from './resident.service';
import { SuspensionService } from './suspension.service';

/** The process-wide services; per-request state lives in the Context instead. */
export function createServices(db: DataSource, config: Config) {
  const keyring = new TenantKeyring(config.masterKey, config.previousMasterKey);
  const tokens = new TokenSigner(config.tokenSecret, config.tokenTtlSeconds);
  const detector = new IntrusionDetector(db);
  return {
    db,
    config,
    keyring,
    detector,
    auth: new AuthService(db, tokens, config, detector),
    suspensions: new SuspensionService(),
    accounts: new AccountService(db),
    residents: new ResidentService(keyring),
    reference: new ReferenceService(db),
    keyRotation: new KeyRotationService(db, keyring),
  };
}

export type Services = ReturnType<typeof createServices>;
