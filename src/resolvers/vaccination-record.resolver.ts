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
  vaccinationRecord(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<VaccinationRecord | null> {
    return ctx.services.records.get(ctx, id);
  }

  @Mutation(() => VaccinationRecordPayload, { description: 'A dose entered from a paper form (source OFFICER).' })
  recordDose(@Ctx() ctx: Context, @Arg('input', () => RecordDoseInput) input: RecordDoseInput) {
    return withUserErrors(async () => ({ record: await ctx.services.records.record(ctx, input) }));
  }

  @Mutation(() => VaccinationRecordPayload, { description: 'Returns the new record; the old one is kept as SUPERSEDED.' })
  correctVaccinationRecord(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('input', () => CorrectRecordInput) input: CorrectRecordInput) {
    return withUserErrors(async () => ({ record: await ctx.services.records.correct(ctx, id, input) }));
  }

  @Mutation(() => VaccinationRecordPayload, { description: 'Marks the record ENTERED_IN_ERROR; it is kept, never erased.' })
  deleteVaccinationRecord(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('reason') reason: string) {
    return withUserErrors(async () => ({ record: await ctx.services.records.delete(ctx, id, reason) }));
  }

  @Query(() => [PendingDose], { description: 'Doses waiting for one of the caller\'s tickets to be registered, oldest first.' })
  pendingDoses(
    @Ctx() ctx: Context,
    @Arg('status', () => PendingDoseStatus, { defaultValue: PendingDoseStatus.PENDING }) status: PendingDoseStatus,
    @Arg('first', () => Int, { defaultValue: 50, description: pageSizeDescription }) first: number,
    @Arg('after', () => ID, { nullable: true, description: 'The id of the last dose of the previous page: the next page follows it.' }) after?: string,
    @Arg('ticketNumber', () => String, { nullable: true, description: 'Only the doses filed on this ticket number.' }) ticketNumber?: string,
  ): Promise<PendingDose[]> {
    return ctx.services.pendingDoses.list(ctx, { status, first, after: after ?? null, ticketNumber: ticketNumber ?? null });
  }

  @Mutation(() => PendingDosePayload, { description: 'Records a pending dose for the resident the municipality identified.' })
  assignPendingDose(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('residentId', () => ID) residentId: string) {
    return withUserErrors(async () => ({ pendingDose: await ctx.services.pendingDoses.assign(ctx, id, residentId) }));
  }

  @Mutation(() => PendingDosePayload)
  dismissPendingDose(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('reason') reason: string) {
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
    @Arg('includeHistory', { defaultValue: false }) includeHistory: boolean,
  ): Promise<VaccinationRecord[]> {
    return ctx.services.records.ofResident(ctx, resident.id, includeHistory);
  }

  @FieldResolver(() => [Ticket])
  tickets(@Ctx() ctx: Context, @Root() resident: Resident): Promise<Ticket[]> {
    return ctx.services.tickets.ofResident(ctx, resident.id);
  }
}
