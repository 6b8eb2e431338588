import { EntityManager } from 'typeorm';
import type { Context } from '../context';
import { Account } from '../entities/account.entity';
import { Municipality } from '../entities/municipality.entity';
import { badArgument, ErrorCode, identifierError } from '../errors';
import { checkMunicipalityCode, checkPrefectureCode } from '../validation/identifiers';
import { cityOfWard, noMunicipalityMessage } from '../validation/own-codes';

/** Public reference data and the signed-in account's own profile. */
export class ReferenceService {
  /** Refuses a code that is no prefecture, as statistics does: an empty list would read as a prefecture without municipalities. */
  municipalitiesOf(db: EntityManager, prefectureCode: string): Promise<Municipality[]> {
    const checked = checkPrefectureCode(prefectureCode);
    if (!checked.ok) throw badArgument(['prefectureCode'], checked.message, identifierError(checked.reason));
    return db.getRepository(Municipality).find({ where: { prefectureCode: checked.value }, order: { code: 'ASC' } });
  }

  /**
   * Refuses a code no municipality can have, as every municipality code argument is refused: null would read as "no such municipality yet".
   * A designated city's ward is refused naming the city, as where a municipality is named elsewhere.
   */
  async municipality(ctx: Context, code: string): Promise<Municipality | null> {
    const checked = checkMunicipalityCode(code);
    if (!checked.ok) throw badArgument(['code'], checked.message, identifierError(checked.reason));
    // A ward is in the national list but no municipality of its own: null would read as no such place, where its city is the one to ask for.
    if (cityOfWard(checked.value)) throw badArgument(['code'], noMunicipalityMessage(checked.value), ErrorCode.UNKNOWN_MUNICIPALITY);
    return ctx.loaders.municipality.load(checked.value);
  }

  account(db: EntityManager, id: string): Promise<Account> {
    return db.getRepository(Account).findOneByOrFail({ id });
  }
}
