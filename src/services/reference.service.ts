import { EntityManager } from 'typeorm';
import type { Context } from '../context';
import { Account } from '../entities/account.entity';
import { Municipality } from '../entities/municipality.entity';
import { badArgument, identifierError } from '../errors';
import { checkMunicipalityCode, checkPrefectureCode } from '../validation/identifiers';

/** Public reference data and the signed-in account's own profile. */
export class ReferenceService {
  /** Refuses a code that is no prefecture, as statistics does: an empty list would read as a prefecture without municipalities. */
  municipalitiesOf(db: EntityManager, prefectureCode: string): Promise<Municipality[]> {
    const checked = checkPrefectureCode(prefectureCode);
    if (!checked.ok) throw badArgument(['prefectureCode'], checked.message, identifierError(checked.reason));
    return db.getRepository(Municipality).find({ where: { prefectureCode: checked.value }, order: { code: 'ASC' } });
  }

  /** Refuses a code no municipality can have, as every municipality code argument is refused: null would read as "no such municipality yet". */
  async municipality(ctx: Context, code: string): Promise<Municipality | null> {
    const checked = checkMunicipalityCode(code);
    if (!checked.ok) throw badArgument(['code'], checked.message, identifierError(checked.reason));
    return ctx.loaders.municipality.load(checked.value);
  }

  account(db: EntityManager, id: string): Promise<Account> {
    return db.getRepository(Account).findOneByOrFail({ id });
  }
}
