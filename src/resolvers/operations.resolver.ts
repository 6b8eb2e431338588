import { Arg, Ctx, Field, InputType, Int, Mutation, ObjectType, Query, registerEnumType, Resolver } from 'type-graphql';
import { Context } from '../context';
import { FunctionSuspension, PlatformFunction } from '../entities/function-suspension.entity';
import { ALERT_KINDS, AlertKind, SecurityAlert } from '../entities/security-alert.entity';
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

const SecurityAlertKind = Object.fromEntries(ALERT_KINDS.map((kind) => [kind, kind])) as { [K in AlertKind]: K };
registerEnumType(SecurityAlertKind, { name: 'SecurityAlertKind' });

@InputType()
export class SecurityAlertFilter {
  @Field(() => SecurityAlertKind, { nullable: true }) kind?: AlertKind;
  @Field(() => String, { nullable: true, description: 'The account the alert is about; an id no account has is refused (BAD_USER_INPUT), as in auditEvents.' }) actorId?: string;
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

  @Query(() => [SecurityAlert], { description: 'Newest first; a page shorter than `first` is the last.' })
  securityAlerts(
    @Ctx() ctx: Context,
    @Arg('filter', () => SecurityAlertFilter, { nullable: true }) filter?: SecurityAlertFilter,
    @Arg('first', () => Int, { defaultValue: 100, description: 'At most 500.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'The `id` of the last alert of the previous page: the next, older page.' }) after?: string,
  ): Promise<SecurityAlert[]> {
    return ctx.services.detector.list(ctx, filter ?? {}, first ?? 100, after);
  }
}
