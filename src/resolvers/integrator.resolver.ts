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
    @Arg('municipalityCode') municipalityCode: string,
    @Arg('ticketNumber') ticketNumber: string,
    @Arg('birthDate') birthDate: string,
  ): Promise<TicketEligibility> {
    return ctx.services.eligibility.check(ctx, municipalityCode, ticketNumber, birthDate);
  }

  @Query(() => [IntegratorContract], { description: 'Operator: every contract (optionally of one integrator). Integrator: its own.' })
  integratorContracts(@Ctx() ctx: Context, @Arg('integratorAccountId', () => ID, { nullable: true }) integratorAccountId?: string): Promise<IntegratorContract[]> {
    return ctx.services.integratorContracts.list(ctx, integratorAccountId);
  }

  @Mutation(() => IntegratorContractPayload)
  createIntegratorContract(@Ctx() ctx: Context, @Arg('integratorAccountId', () => ID) integratorAccountId: string, @Arg('municipalityCode') municipalityCode: string) {
    return withUserErrors(async () => ({ contract: await ctx.services.integratorContracts.create(ctx, integratorAccountId, municipalityCode) }));
  }

  @Mutation(() => IntegratorContractPayload, { description: 'Ends a contract: the integrator no longer gets answers about that municipality.' })
  deleteIntegratorContract(@Ctx() ctx: Context, @Arg('integratorAccountId', () => ID) integratorAccountId: string, @Arg('municipalityCode') municipalityCode: string) {
    return withUserErrors(async () => ({ contract: await ctx.services.integratorContracts.delete(ctx, integratorAccountId, municipalityCode) }));
  }
}
