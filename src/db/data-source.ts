import 'reflect-metadata';
import { DataSource, Logger } from 'typeorm';
import { Foundation1795392000000 } from '../../migrations/1795392000000-foundation';
import { Statistics1795600000000 } from '../../migrations/1795600000000-statistics';
import { Account } from '../entities/account.entity';
import { AuditEvent } from '../entities/audit-event.entity';
import { Municipality } from '../entities/municipality.entity';
import { Prefecture } from '../entities/prefecture.entity';
import { Resident } from '../entities/resident.entity';
import { TenantKey } from '../entities/tenant-key.entity';
import { Ticket } from '../entities/ticket.entity';
import { VaccinationRecord } from '../entities/vaccination-record.entity';

export const entities = [Prefecture, Municipality, TenantKey, Account, Resident, Ticket, VaccinationRecord, AuditEvent];
export const migrations = [Foundation1795392000000, Statistics1795600000000];

export function createDataSource(url: string, options: { logger?: Logger; poolSize?: number } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    logging: options.logger ? ['query'] : false,
    logger: options.logger,
    poolSize: options.poolSize ?? 10,
  });
}

/** Applies pending migrations; each runs in its own transaction. */
export async function migrate(dataSource: DataSource): Promise<void> {
  await dataSource.runMigrations({ transaction: 'each' });
}
