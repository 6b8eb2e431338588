import { GraphQLError } from 'graphql';
import { randomUUID } from 'node:crypto';
import { EntityManager, In, IsNull } from 'typeorm';
import type { Context } from '../context';
import { FunctionSuspension, PlatformFunction } from '../entities/function-suspension.entity';
import { Municipality } from '../entities/municipality.entity';
import { ErrorCode, ErrorCollector, identifierError, InputError } from '../errors';
import { applyScope, scopeOf } from '../policies/scope';
import { checkMunicipalityCode } from '../validation/identifiers';
import { noMunicipalityMessage } from '../validation/own-codes';
import { collectReason } from '../validation/reasons';
import { writeAudit } from './audit.service';

export const functionSuspended = (fn: PlatformFunction) =>
  new GraphQLError(`${fn} is suspended by the system operator; try again later or contact the help desk`, {
    extensions: { code: 'FUNCTION_SUSPENDED', function: fn },
  });

/** Emergency stop: the state lives in the database, so it survives restarts and holds for every process. */
export class SuspensionService {
  /** Throws FUNCTION_SUSPENDED when `fn` is stopped platform-wide or for any of these municipalities. */
  async assertAvailable(db: EntityManager, fn: PlatformFunction, ...municipalityCodes: (string | null)[]): Promise<void> {
    const codes = municipalityCodes.filter((c): c is string => !!c);
    const stopped = await db.getRepository(FunctionSuspension).exists({
      where: [{ function: fn, municipalityCode: IsNull() }, ...(codes.length ? [{ function: fn, municipalityCode: In(codes) }] : [])],
    });
    if (stopped) throw functionSuspended(fn);
  }

  async list(ctx: Context): Promise<FunctionSuspension[]> {
    const scope = scopeOf(ctx.ability, 'read', 'FunctionSuspension');
    if (!scope) return [];
    return applyScope((await ctx.session.manager()).getRepository(FunctionSuspension).createQueryBuilder('s'), scope)
      .orderBy('s.suspended_at', 'DESC').getMany();
  }

  async suspend(ctx: Context, fn: PlatformFunction, municipality: string | null | undefined, reason: string): Promise<FunctionSuspension> {
    const db = await ctx.session.manager();
    // Both arguments are checked before either is refused, in the order the schema lists them.
    const errors = new ErrorCollector();
    const municipalityCode = await this.checkScope(db, municipality, errors);
    const why = collectReason(errors, reason, 500);
    errors.throwIfAny();
    return db.transaction(async (tx) => {
      const row = tx.getRepository(FunctionSuspension).create({
        id: randomUUID(), function: fn, municipalityCode, reason: why!, suspendedBy: ctx.actor!.accountId, suspendedAt: new Date(),
      });
      const inserted: unknown[] = await tx.query(
        `INSERT INTO function_suspension (id, function, municipality_code, reason, suspended_by, suspended_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id`,
        [row.id, fn, municipalityCode, row.reason, row.suspendedBy, row.suspendedAt],
      );
      if (inserted.length === 0) throw InputError.of(['function'], ErrorCode.DUPLICATE, 'is already suspended for this scope');
      await writeAudit(tx, ctx, [{ operation: `suspend.${fn}`, municipalityCode, targetIds: [row.id], outcome: 'SUCCESS' }]);
      return row;
    });
  }

  async resume(ctx: Context, fn: PlatformFunction, municipality: string | null | undefined): Promise<string> {
    const db = await ctx.session.manager();
    const errors = new ErrorCollector();
    const municipalityCode = await this.checkScope(db, municipality, errors);
    errors.throwIfAny();
    return db.transaction(async (tx) => {
      // Found and removed in one statement: of two operators lifting the same stop at once, the second
      // is told it is no longer suspended, and the log names one lift of it.
      const [[row]]: [{ id: string }[], number] = await tx.query(
        'DELETE FROM function_suspension WHERE function = $1 AND municipality_code IS NOT DISTINCT FROM $2 RETURNING id',
        [fn, municipalityCode],
      );
      if (!row) throw InputError.of(['function'], ErrorCode.NOT_FOUND, 'is not suspended for this scope');
      await writeAudit(tx, ctx, [{ operation: `resume.${fn}`, municipalityCode, targetIds: [row.id], outcome: 'SUCCESS' }]);
      return row.id;
    });
  }

  /** The stop's municipality, null for the whole country or when its code is refused (added to `errors`). */
  private async checkScope(db: EntityManager, municipality: string | null | undefined, errors: ErrorCollector): Promise<string | null> {
    // Only an omitted code means the whole country: a blank one is a mistake, not a wider stop.
    if (municipality === null || municipality === undefined) return null;
    const checked = checkMunicipalityCode(municipality);
    if (!checked.ok) {
      errors.add(['municipalityCode'], identifierError(checked.reason), checked.message);
      return null;
    }
    if (!(await db.getRepository(Municipality).existsBy({ code: checked.value }))) {
      // A ward is in the national list, but its designated city is the one municipality a stop can name.
      errors.add(['municipalityCode'], ErrorCode.UNKNOWN_MUNICIPALITY, noMunicipalityMessage(checked.value));
      return null;
    }
    return checked.value;
  }
}
