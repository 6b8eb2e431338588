import { DataSource, EntityManager } from 'typeorm';
import { Account } from '../entities/account.entity';
import { Municipality } from '../entities/municipality.entity';

/** Public reference data and the signed-in account's own profile. */
export class ReferenceService {
  constructor(private readonly db: DataSource) {}

  municipalitiesOf(db: EntityManager, prefectureCode: string): Promise<Municipality[]> {
    return db.getRepository(Municipality).find({ where: { prefectureCode: prefectureCode.trim() }, order: { code: 'ASC' } });
  }

  account(db: EntityManager, id: string): Promise<Account> {
    return db.getRepository(Account).findOneByOrFail({ id });
  }

  accountByLogin(loginId: string): Promise<Account> {
    return this.db.getRepository(Account).findOneByOrFail({ loginId });
  }
}
