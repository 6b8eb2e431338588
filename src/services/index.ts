import { DataSource } from 'typeorm';
import { TokenSigner } from '../auth/token';
import { Config } from '../config';
import { TenantKeyring } from '../crypto/tenant-keyring';
import { AccountService } from './account.service';
import { AuthService } from './auth.service';
import { ReferenceService } from './reference.service';
import { ResidentService } from './resident.service';
import { StatisticsService } from './statistics.service';

/** The process-wide services; per-request state lives in the Context instead. */
export function createServices(db: DataSource, config: Config) {
  const keyring = new TenantKeyring(config.masterKey);
  const tokens = new TokenSigner(config.tokenSecret, config.tokenTtlSeconds);
  return {
    db,
    config,
    keyring,
    auth: new AuthService(db, tokens, config),
    accounts: new AccountService(db),
    residents: new ResidentService(db, keyring),
    reference: new ReferenceService(db),
    statistics: new StatisticsService(db, config.statisticsThreshold),
  };
}

export type Services = ReturnType<typeof createServices>;
