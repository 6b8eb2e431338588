import type { EntityManager } from 'typeorm';
import { Context } from '../context';
import { IntegratorContract } from '../entities/integrator-contract.entity';
import { badArgument, ErrorCode, ErrorCollector, forbidden, identifierError, InputError } from '../errors';
import { applyScope, reachesEveryTenant, scopeOf } from '../policies/scope';
import { Role } from '../schema/enums';
import { checkMunicipalityCode, isUuid } from '../validation/identifiers';
import { noMunicipalityMessage } from '../validation/own-codes';
import { writeAudit } from './audit.service';

/** The role of the account with this id, or null when no account has it (a malformed id included). */
async function roleOf(db: EntityManager, accountId: string): Promise<string | null> {
  if (!isUuid(accountId)) return null;
  const [account] = await db.query('SELECT role FROM account WHERE id = $1', [accountId]);
  return account?.role ?? null;
}

/** Which municipalities contracted which integrator; kept by the system operator. */
export class IntegratorContractService {

  async list(ctx: Context, integratorAccountId?: string | null): Promise<IntegratorContract[]> {
    // No account has such an id: an empty list would read as "this integrator has no contract".
    if (integratorAccountId !== undefined && integratorAccountId !== null && !isUuid(integratorAccountId)) {
      throw badArgument(['integratorAccountId'], 'must be a UUID', ErrorCode.INVALID_FORMAT);
    }
    const scope = scopeOf(ctx.ability, 'read', 'IntegratorContract');
    if (!scope) return [];
    const db = await ctx.session.manager();
    // Nor would an id that is no integrator's, for the operator, who reads every contract; an integrator
    // reads only its own and is told nothing of other accounts.
    if (integratorAccountId && reachesEveryTenant(scope)) {
      const role = await roleOf(db, integratorAccountId);
      if (role === null) throw badArgument(['integratorAccountId'], 'is not an account id: no account has it', ErrorCode.NOT_FOUND);
      if (role !== Role.INTEGRATOR) throw badArgument(['integratorAccountId'], 'is not an INTEGRATOR account', ErrorCode.NOT_INTEGRATOR);
    }
    const query = applyScope(db.getRepository(IntegratorContract).createQueryBuilder('c'), scope);
    if (integratorAccountId) query.andWhere('c.integratorAccountId = :a', { a: integratorAccountId });
    return query.orderBy('c.integratorAccountId').addOrderBy('c.municipalityCode').getMany();
  }

  /** The municipality code, and the integrator's id in lower case, as ids are logged: a search of the log by that id finds the contract's events. */
  private async checked(ctx: Context, integratorAccountId: string, municipalityCode: string): Promise<{ code: string; accountId: string }> {
    const errors = new ErrorCollector();
    const code = checkMunicipalityCode(municipalityCode);
    if (!code.ok) errors.add(['municipalityCode'], identifierError(code.reason), code.message);
    else if (!(await ctx.loaders.municipality.load(code.value))) {
      errors.add(['municipalityCode'], ErrorCode.UNKNOWN_MUNICIPALITY, noMunicipalityMessage(code.value));
    }
    const role = await roleOf(await ctx.session.manager(), integratorAccountId);
    if (role === null) errors.add(['integratorAccountId'], ErrorCode.NOT_FOUND, 'not found or no access');
    else if (role !== Role.INTEGRATOR) errors.add(['integratorAccountId'], ErrorCode.NOT_INTEGRATOR, 'is not an INTEGRATOR account');
    errors.throwIfAny();
    return { code: code.ok ? code.value : '', accountId: integratorAccountId.toLowerCase() };
  }

  async create(ctx: Context, integratorAccountId: string, municipalityCode: string): Promise<IntegratorContract> {
    if (!ctx.ability.can('create', 'IntegratorContract')) throw forbidden();
    const { code, accountId } = await this.checked(ctx, integratorAccountId, municipalityCode);
    return (await ctx.session.manager()).transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO integrator_contract (municipality_code, integrator_account_id, created_by) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING created_at`,
        [code, accountId, ctx.actor!.accountId],
      );
      if (!inserted.length) throw InputError.of(['municipalityCode'], ErrorCode.DUPLICATE, 'this municipality already contracted this integrator');
      await writeAudit(tx, ctx, [{ operation: 'integratorContract.create', municipalityCode: code, targetIds: [accountId], outcome: 'SUCCESS' }]);
      return tx.getRepository(IntegratorContract).findOneByOrFail({ municipalityCode: code, integratorAccountId: accountId });
    });
  }

  async delete(ctx: Context, integratorAccountId: string, municipalityCode: string): Promise<IntegratorContract> {
    if (!ctx.ability.can('delete', 'IntegratorContract')) throw forbidden();
    const { code, accountId } = await this.checked(ctx, integratorAccountId, municipalityCode);
    return (await ctx.session.manager()).transaction(async (tx) => {
      const existing = await tx.getRepository(IntegratorContract).findOneBy({ municipalityCode: code, integratorAccountId: accountId });
      const missing = () => InputError.of(['municipalityCode'], ErrorCode.NOT_FOUND, 'this municipality has no contract with this integrator');
      if (!existing) throw missing();
      // Another request may have ended it since it was read: that one ended it, and logs it.
      const { affected } = await tx.getRepository(IntegratorContract).delete({ municipalityCode: existing.municipalityCode, integratorAccountId: accountId });
      if (!affected) throw missing();
      await writeAudit(tx, ctx, [{ operation: 'integratorContract.delete', municipalityCode: existing.municipalityCode, targetIds: [accountId], outcome: 'SUCCESS' }]);
      return existing;
    });
  }
}
