import { Arg, Ctx, Field, InputType, Int, Mutation, ObjectType, Query, registerEnumType, Resolver } from 'type-graphql';
import { Context } from '../context';
import { FunctionSuspension, PlatformFunction } from '../entities/function-suspension.entity';
import { ALERT_KINDS, AlertKind, SecurityAlert } from '../entities/security-alert.entity';
import { UserError } from '../errors';
import { payloadDescriptions, withUserErrors } from './payload';

@ObjectType({ description: 'The stop made, or why not.' })
export class SuspensionPayload {
  @Field(() => FunctionSuspension, { nullable: true, description: payloadDescriptions.data }) suspension?: FunctionSuspension | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

@ObjectType({ description: 'The stop ended, or why not.' })
export class ResumePayload {
  @Field(() => String, { nullable: true, description: 'The id of the stop ended; null when userErrors is not empty.' }) resumedSuspensionId?: string | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

const SecurityAlertKind = Object.fromEntries(ALERT_KINDS.map((kind) => [kind, kind])) as { [K in AlertKind]: K };
registerEnumType(SecurityAlertKind, {
  name: 'SecurityAlertKind',
  description: 'What intrusion detection noticed. Counts are over the detection window; the limits are server settings.',
  valuesConfig: {
    ACCOUNT_LOCKED: { description: 'An account was locked after repeated wrong passwords.' },
    LOGIN_THROTTLED: { description: 'A source address reached the limit of failed logins; raised once while it stays at the limit.' },
    REPEATED_DENIALS: { description: 'An account kept being refused (each request counted once).' },
    UNKNOWN_TICKET_SCANS: { description: 'A tablet scanned many tickets that are not registered (a pending dose counts as one).' },
    TICKET_SCAN_SWEEP: { description: 'A tablet scanned far more registered tickets than a site vaccinates: walking through ticket numbers.' },
    ELIGIBILITY_GUESSING: { description: 'An integrator missed one ticket\'s birth date repeatedly; that ticket answers NOT_FOUND to it until its checks pause. Names the ticket\'s id, never its number.' },
    ELIGIBILITY_MISSES: { description: 'An integrator\'s eligibility checks answered NOT_FOUND many times over any tickets. The integrator is not throttled for it.' },
    MY_NUMBER_SWEEP: { description: 'An account read far more My Numbers than a desk does (numbers shown, and look-ups by number): copying its city\'s residents out. It is not throttled for it.' },
  },
});

@InputType({ description: 'Conditions on alerts; those given all apply.' })
export class SecurityAlertFilter {
  @Field(() => SecurityAlertKind, { nullable: true, description: 'Only alerts of this kind.' }) kind?: AlertKind;
  @Field(() => String, { nullable: true, description: 'The account the alert is about; an id no account has is refused (BAD_USER_INPUT), as in auditEvents.' }) actorId?: string;
}

/** The system operator's console: emergency stop and intrusion alerts. */
@Resolver()
export class OperationsResolver {
  @Query(() => [FunctionSuspension], { description: 'Operator: the functions stopped now, newest first.' })
  functionSuspensions(@Ctx() ctx: Context): Promise<FunctionSuspension[]> {
    return ctx.services.suspensions.list(ctx);
  }

  @Mutation(() => SuspensionPayload, { description: 'Stops a function platform-wide, or for one municipality when a code is given.' })
  suspendFunction(
    @Ctx() ctx: Context,
    @Arg('function', () => PlatformFunction, { description: 'The function to stop.' }) fn: PlatformFunction,
    @Arg('reason', { description: 'Why, up to 500 characters.' }) reason: string,
    @Arg('municipalityCode', () => String, { nullable: true, description: 'Stops it for this municipality only (6 digits; a ward\'s code is refused, naming its city\'s); omitted, platform-wide.' }) municipalityCode?: string,
  ) {
    return withUserErrors(async () => ({ suspension: await ctx.services.suspensions.suspend(ctx, fn, municipalityCode, reason) }));
  }

  @Mutation(() => ResumePayload, { description: 'Ends the stop of a function in the scope given; one not stopped there is NOT_FOUND on function.' })
  resumeFunction(
    @Ctx() ctx: Context,
    @Arg('function', () => PlatformFunction, { description: 'The function to resume.' }) fn: PlatformFunction,
    @Arg('municipalityCode', () => String, { nullable: true, description: 'The municipality it was stopped for; omitted, the platform-wide stop.' }) municipalityCode?: string,
  ) {
    return withUserErrors(async () => ({ resumedSuspensionId: await ctx.services.suspensions.resume(ctx, fn, municipalityCode) }));
  }

  @Query(() => [SecurityAlert], { description: 'Newest first; a page shorter than `first` is the last.' })
  securityAlerts(
    @Ctx() ctx: Context,
    @Arg('filter', () => SecurityAlertFilter, { nullable: true, description: 'Conditions that all apply; omitted, every alert.' }) filter?: SecurityAlertFilter,
    @Arg('first', () => Int, { defaultValue: 100, description: 'At most 500.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'The `id` of the last alert of the previous page: the next, older page.' }) after?: string,
  ): Promise<SecurityAlert[]> {
    return ctx.services.detector.list(ctx, filter ?? {}, first ?? 100, after);
  }
}
