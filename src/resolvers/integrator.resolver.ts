import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Context } from '../context';
import { IntegratorContract } from '../entities/integrator-contract.entity';
import { IntegratorContractPayload, TicketEligibility } from './integrator.types';
import { withUserErrors } from './payload';

@Resolver()
export class IntegratorResolver {
  @Query(() => TicketEligibility, { description: 'For reservation systems: may this ticket book a dose, and from when. Rate-limited per client.' })
  ticketEligibility(
    @Ctx() ctx: Context,
    @Arg('municipalityCode', { description: 'The issuing municipality: 6 digits with check digit, as printed on the ticket.' }) municipalityCode: string,
    @Arg('ticketNumber', { description: '接種券番号: 10 digits.' }) ticketNumber: string,
    @Arg('birthDate', { description: 'The holder\'s birth date, ISO 8601 (YYYY-MM-DD); a wrong one answers NOT_FOUND.' }) birthDate: string,
  ): Promise<TicketEligibility> {
    return ctx.services.eligibility.check(ctx, municipalityCode, ticketNumber, birthDate);
  }

  @Query(() => [IntegratorContract], { description: 'Operator: every contract (optionally of one integrator). Integrator: its own.' })
  integratorContracts(@Ctx() ctx: Context, @Arg('integratorAccountId', () => ID, { nullable: true, description: 'Operator: only this integrator\'s contracts; an id of no INTEGRATOR account is refused (BAD_USER_INPUT).' }) integratorAccountId?: string): Promise<IntegratorContract[]> {
    return ctx.services.integratorContracts.list(ctx, integratorAccountId);
  }

  @Mutation(() => IntegratorContractPayload, { description: 'Operator: records that a municipality contracted an integrator, whose ticketEligibility then answers for its tickets.' })
  createIntegratorContract(
    @Ctx() ctx: Context,
    @Arg('integratorAccountId', () => ID, { description: 'An INTEGRATOR account\'s id.' }) integratorAccountId: string,
    @Arg('municipalityCode', { description: '6 digits; a ward\'s code is refused, naming its designated city\'s.' }) municipalityCode: string,
  ) {
    return withUserErrors(async () => ({ contract: await ctx.services.integratorContracts.create(ctx, integratorAccountId, municipalityCode) }));
  }

  @Mutation(() => IntegratorContractPayload, { description: 'Ends a contract: the integrator no longer gets answers about that municipality.' })
  deleteIntegratorContract(
    @Ctx() ctx: Context,
    @Arg('integratorAccountId', () => ID, { description: 'An INTEGRATOR account\'s id.' }) integratorAccountId: string,
    @Arg('municipalityCode', { description: '6 digits; a municipality without a contract with it is NOT_FOUND.' }) municipalityCode: string,
  ) {
    return withUserErrors(async () => ({ contract: await ctx.services.integratorContracts.delete(ctx, integratorAccountId, municipalityCode) }));
  }
}
