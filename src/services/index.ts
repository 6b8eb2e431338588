import { DataSource } from 'typeorm';
import { TokenSigner } from '../auth/token';
import { Config } from '../config';
import { TenantKeyring } from '../crypto/tenant-keyring';
import { AccountService } from './account.service';
import { AuthService } from './auth.service';
import { EligibilityService } from './eligibility.service';
import { IntegratorContractService } from './integrator-contract.service';
import { PendingDoseService } from './pending-dose.service';
import { ReferenceService } from './reference.service';
import { ResidentService } from './resident.service';
import { TicketService } from './ticket.service';
import { VaccinationRecordService } from './vaccination-record.service';
import { VaccinationService } from './vaccination.service';

/** The process-wide services; per-request state lives in the Context instead. */
export function createServices(db: DataSource, config: Config) {
  const keyring = new TenantKeyring(config.masterKey);
  const tokens = new TokenSigner(config.tokenSecret, config.tokenTtlSeconds);
  const pendingDoses = new PendingDoseService(db);
  return {
    db,
    config,
    keyring,
    auth: new AuthService(db, tokens, config),
    accounts: new AccountService(db),
    residents: new ResidentService(db, keyring),
    reference: new ReferenceService(db),
    tickets: new TicketService(db, pendingDoses),
    vaccinations: new VaccinationService(db),
    records: new VaccinationRecordService(db),
    pendingDoses,
    eligibility: new EligibilityService(db, { requestsPerMinute: config.integratorRequestsPerMinute, doseIntervals: config.doseIntervals }),
    integratorContracts: new IntegratorContractService(db),
  };
}

export type Services = ReturnType<typeof createServices>;
