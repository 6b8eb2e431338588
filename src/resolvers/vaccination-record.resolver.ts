import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Context } from '../context';
import { PendingDose, PendingDoseStatus } from '../entities/pending-dose.entity';
import { Resident } from '../entities/resident.entity';
import { Ticket } from '../entities/ticket.entity';
import { VaccinationRecord } from '../entities/vaccination-record.entity';
import { withUserErrors } from './payload';
import { pageSizeDescription } from './resident.types';
import { CorrectRecordInput, PendingDosePayload, RecordDoseInput, VaccinationRecordPayload } from './vaccination-record.types';

/** A municipality's view of its records: officer entry, corrections, deletions, pending doses. */
@Resolver(() => VaccinationRecord)
export class VaccinationRecordResolver {
  @Query(() => VaccinationRecord, { nullable: true, description: 'Null when the record does not exist or is not the caller\'s.' })
  vaccinationRecord(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'The record\'s id.' }) id: string): Promise<VaccinationRecord | null> {
    return ctx.services.records.get(ctx, id);
  }

  @Mutation(() => VaccinationRecordPayload, { description: 'A dose entered from a paper form (source OFFICER).' })
  recordDose(@Ctx() ctx: Context, @Arg('input', () => RecordDoseInput, { description: 'The dose as the form gives it.' }) input: RecordDoseInput) {
    return withUserErrors(async () => ({ record: await ctx.services.records.record(ctx, input) }));
  }

  @Mutation(() => VaccinationRecordPayload, { description: 'Returns the new record; the old one is kept as SUPERSEDED.' })
  correctVaccinationRecord(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The record to correct (status COMPLETED).' }) id: string,
    @Arg('input', () => CorrectRecordInput, { description: 'The fields to change, and why.' }) input: CorrectRecordInput,
  ) {
    return withUserErrors(async () => ({ record: await ctx.services.records.correct(ctx, id, input) }));
  }

  @Mutation(() => VaccinationRecordPayload, { description: 'Marks the record ENTERED_IN_ERROR; it is kept, never erased.' })
  deleteVaccinationRecord(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The record; only the resident\'s latest dose.' }) id: string,
    @Arg('reason', { description: 'Why, up to 500 characters; kept as statusReason.' }) reason: string,
  ) {
    return withUserErrors(async () => ({ record: await ctx.services.records.delete(ctx, id, reason) }));
  }

  @Query(() => [PendingDose], { description: 'Doses waiting for one of the caller\'s tickets to be registered, oldest first.' })
  pendingDoses(
    @Ctx() ctx: Context,
    @Arg('status', () => PendingDoseStatus, { defaultValue: PendingDoseStatus.PENDING, description: 'Only the doses in this state.' }) status: PendingDoseStatus,
    @Arg('first', () => Int, { defaultValue: 50, description: pageSizeDescription }) first: number,
    @Arg('after', () => ID, { nullable: true, description: 'The id of the last dose of the previous page: the next page follows it.' }) after?: string,
    @Arg('ticketNumber', () => String, { nullable: true, description: 'Only the doses filed on this ticket number.' }) ticketNumber?: string,
  ): Promise<PendingDose[]> {
    return ctx.services.pendingDoses.list(ctx, { status, first, after: after ?? null, ticketNumber: ticketNumber ?? null });
  }

  @Mutation(() => PendingDosePayload, { description: 'Records a pending dose for the resident the municipality identified.' })
  assignPendingDose(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The pending dose (status PENDING).' }) id: string,
    @Arg('residentId', () => ID, { description: 'The resident it was given to; once its ticket number is issued, only that ticket\'s holder. A dose rule it breaks is refused with the rule\'s code on id.' }) residentId: string,
  ) {
    return withUserErrors(async () => ({ pendingDose: await ctx.services.pendingDoses.assign(ctx, id, residentId) }));
  }

  @Mutation(() => PendingDosePayload, { description: 'Sets a pending dose aside without recording it (status DISMISSED).' })
  dismissPendingDose(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The pending dose (status PENDING).' }) id: string,
    @Arg('reason', { description: 'Why, up to 500 characters; kept as resolutionReason.' }) reason: string,
  ) {
    return withUserErrors(async () => ({ pendingDose: await ctx.services.pendingDoses.dismiss(ctx, id, reason) }));
  }
}

/** A resident's tickets and records, through per-request loaders (one query per page, not per row). */
@Resolver(() => Resident)
export class ResidentVaccinationResolver {
  @FieldResolver(() => [VaccinationRecord], { description: 'Dose records; with includeHistory also superseded and entered-in-error ones.' })
  async vaccinations(
    @Ctx() ctx: Context,
    @Root() resident: Resident,
    @Arg('includeHistory', { defaultValue: false, description: 'Also the SUPERSEDED and ENTERED_IN_ERROR records.' }) includeHistory: boolean,
  ): Promise<VaccinationRecord[]> {
    return ctx.services.records.ofResident(ctx, resident.id, includeHistory);
  }

  @FieldResolver(() => [Ticket], { description: 'Every ticket issued to the resident, void ones included.' })
  tickets(@Ctx() ctx: Context, @Root() resident: Resident): Promise<Ticket[]> {
    return ctx.services.tickets.ofResident(ctx, resident.id);
  }
}
