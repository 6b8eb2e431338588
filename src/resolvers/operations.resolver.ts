import { Arg, Ctx, Field, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { Context } from '../context';
import { FunctionSuspension, PlatformFunction } from '../entities/function-suspension.entity';
import { SecurityAlert } from '../entities/security-alert.entity';
import { UserError } from '../errors';
import { withUserErrors } from './payload';

@ObjectType()
export class SuspensionPayload {
  @Field(() => FunctionSuspension, { nullable: true }) suspension?: FunctionSuspension | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

@ObjectType()
export class ResumePayload {
  @Field(() => String, { nullable: true }) resumedSuspensionId?: string | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

/** The system operator's console: emergency stop and intrusion alerts. */
@Resolver()
export class OperationsResolver {
  @Query(() => [FunctionSuspension])
  functionSuspensions(@Ctx() ctx: Context): Promise<FunctionSuspension[]> {
    return ctx.services.suspensions.list(ctx);
  }

  @Mutation(() => SuspensionPayload, { description: 'Stops a function platform-wide, or for one municipality when a code is given.' })
  suspendFunction(
    @Ctx() ctx: Context,
    @Arg('function', () => PlatformFunction) fn: PlatformFunction,
    @Arg('reason') reason: string,
    @Arg('municipalityCode', () => String, { nullable: true }) municipalityCode?: string,
  ) {
    return withUserErrors(async () => ({ suspension: await ctx.services.suspensions.suspend(ctx, fn, municipalityCode, reason) }));
  }

  @Mutation(() => ResumePayload)
  resumeFunction(
    @Ctx() ctx: Context,
    @Arg('function', () => PlatformFunction) fn: PlatformFunction,
    @Arg('municipalityCode', () => String, { nullable: true }) municipalityCode?: string,
  ) {
    return withUserErrors(async () => ({ resumedSuspensionId: await ctx.services.suspensions.resume(ctx, fn, municipalityCode) }));
  }

  @Query(() => [SecurityAlert], { description: 'Newest first.' })
  async securityAlerts(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 100, description: 'At most 500.' }) first: number): Promise<SecurityAlert[]> {
    return ctx.services.detector.list(ctx, first);
  }
}
