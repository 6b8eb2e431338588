import { DataSource } from 'typeorm';
import { TokenSigner } from '../auth/token';
import { Config } from '../config';
import { clientAddressOf } from '../http/client-address';
import { TransferSlots } from '../http/transfer-slots';
import { TenantKeyring } from '../crypto/tenant-keyring';
import { createLog, Log } from '../log';
import { AccountService } from './account.service';
import { AuthService } from './auth.service';
import { EligibilityService } from './eligibility.service';
import { IntegratorContractService } from './integrator-contract.service';
import { IntrusionDetector } from './intrusion.service';
import { KeyRotationService } from './key-rotation.service';
import { PendingDoseService } from './pending-dose.service';
import { ReferenceService } from './reference.service';
import { RecordExportService } from './record-export.service';
import { ResidentImportService } from './resident-import.service';
import { ResidentService } from './resident.service';
import { SuspensionService } from './suspension.service';
import { TicketService } from './ticket.service';
import { VaccinationRecordService } from './vaccination-record.service';
import { VaccinationService } from './vaccination.service';
import { StatisticsService } from './statistics.service';

/** The process-wide services; per-request state lives in the Context instead. */
export function createServices(db: DataSource, config: Config, log: Log = createLog(config.logLevel)) {
  const keyring = new TenantKeyring(config.masterKey, config.previousMasterKey);
  const tokens = new TokenSigner(config.tokenSecret, config.tokenTtlSeconds);
  const detector = new IntrusionDetector(db, log);
  const suspensions = new SuspensionService();
  const pendingDoses = new PendingDoseService();
  return {
    db,
    config,
    log,
    clientAddress: clientAddressOf(config.trustedProxies ?? []),
    keyring,
    detector,
    auth: new AuthService(db, tokens, config, detector),
    suspensions,
    accounts: new AccountService(db),
    residents: new ResidentService(keyring),
    reference: new ReferenceService(),
    keyRotation: new KeyRotationService(db, keyring),
    tickets: new TicketService(pendingDoses),
    vaccinations: new VaccinationService(),
    records: new VaccinationRecordService(),
    pendingDoses,
    eligibility: new EligibilityService({ requestsPerMinute: config.integratorRequestsPerMinute, doseIntervals: config.doseIntervals }),
    integratorContracts: new IntegratorContractService(),
    imports: new ResidentImportService(db, keyring, pendingDoses, suspensions, log),
    exports: new RecordExportService(db, log),
    // One upload per municipality (its imports merge one at a time anyway), two downloads; a few in all.
    uploads: new TransferSlots(1, 4),
    downloads: new TransferSlots(2, 4),
    statistics: new StatisticsService(db, log, config.statisticsThreshold),
  };
}

export type Services = ReturnType<typeof createServices>;
