import { EntityManager } from 'typeorm';
import { Account } from '../entities/account.entity';
import { Municipality } from '../entities/municipality.entity';

/** Public reference data and the signed-in account's own profile. */
export class ReferenceService {
  municipalitiesOf(db: EntityManager, prefectureCode: string): Promise<Municipality[]> {
    return db.getRepository(Municipality).find({ where: { prefectureCode: prefectureCode.trim() }, order: { code: 'ASC' } });
  }

  account(db: EntityManager, id: string): Promise<Account> {
    return db.getRepository(Account).findOneByOrFail({ id });
  }
}
