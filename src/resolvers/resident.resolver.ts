import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Context } from '../context';
import { Municipality } from '../entities/municipality.entity';
import { Resident } from '../entities/resident.entity';
import { withUserErrors } from './payload';
import {
  DeleteResidentPayload,
  pageSizeDescription,
  RegisterResidentInput,
  ResidentConnection,
  ResidentFilter,
  ResidentPayload,
  UpdateResidentInput,
} from './resident.types';

@Resolver(() => Resident)
export class ResidentResolver {
  @Query(() => ResidentConnection, { description: 'Residents of the caller\'s municipality, ordered by addressee number.' })
  residents(
    @Ctx() ctx: Context,
    @Arg('filter', () => ResidentFilter, { nullable: true, description: 'Conditions that all apply; omitted, every resident.' }) filter?: ResidentFilter,
    @Arg('first', () => Int, { defaultValue: 50, description: pageSizeDescription }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'The endCursor of the previous page; omitted for the first page. Any other value is refused (BAD_USER_INPUT).' }) after?: string,
  ): Promise<ResidentConnection> {
    return ctx.services.residents.list(ctx, filter ?? {}, first, after);
  }

  @Query(() => Resident, { nullable: true, description: 'Null when the resident does not exist or is not the caller\'s.' })
  resident(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'The resident\'s id.' }) id: string): Promise<Resident | null> {
    return ctx.services.residents.get(ctx, id);
  }

  @Query(() => Resident, { nullable: true, description: 'Look-up by My Number within the caller\'s municipality. LG-WAN only.' })
  residentByMyNumber(@Ctx() ctx: Context, @Arg('myNumber', { description: '12-digit My Number (個人番号) with its check digit.' }) myNumber: string): Promise<Resident | null> {
    return ctx.services.residents.findByMyNumber(ctx, myNumber);
  }

  // Nullable so that a refusal withholds only this field: a non-null one would null the resident, and a whole page of them.
  @FieldResolver(() => String, {
    nullable: true,
    description: '個人番号. Only the owning municipality, only over LG-WAN; elsewhere null, with a FORBIDDEN error at its path.',
  })
  myNumber(@Ctx() ctx: Context, @Root() resident: Resident): Promise<string> {
    return ctx.services.residents.myNumberOf(ctx, resident);
  }

  @FieldResolver(() => Municipality, { description: 'The municipality whose resident this is.' })
  async municipality(@Ctx() ctx: Context, @Root() resident: Resident): Promise<Municipality | null> {
    return ctx.loaders.municipality.load(resident.municipalityCode);
  }

  @Mutation(() => ResidentPayload, { description: 'Registers a resident in the caller\'s municipality. LG-WAN only (it takes My Number).' })
  registerResident(@Ctx() ctx: Context, @Arg('input', () => RegisterResidentInput, { description: 'The resident as the registry gives them.' }) input: RegisterResidentInput) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.register(ctx, input) }));
  }

  @Mutation(() => ResidentPayload, { description: 'Changes a resident of the caller\'s municipality; returns it as changed.' })
  updateResident(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'The resident\'s id.' }) id: string, @Arg('input', () => UpdateResidentInput, { description: 'The fields to change.' }) input: UpdateResidentInput) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.update(ctx, id, input) }));
  }

  @Mutation(() => ResidentPayload, { description: '転出: voids the resident\'s open tickets. A resident already moved out or deceased is refused (INVALID_STATE): '
    + 'to correct a move out, clear it with clearResidentStatus first.' })
  markResidentMovedOut(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The resident\'s id.' }) id: string,
    @Arg('movedOutOn', { description: '転出日, ISO 8601 (YYYY-MM-DD): not in the future (JST), not before birth or the last recorded dose.' }) movedOutOn: string,
    @Arg('destinationMunicipalityCode', () => String, { nullable: true, description: 'Where the resident moves, if known (6 digits); a ward of another designated city is recorded as that city.' }) destination?: string,
  ) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.markMovedOut(ctx, id, movedOutOn, destination) }));
  }

  @Mutation(() => ResidentPayload, { description: '死亡: voids the resident\'s open tickets. A resident already deceased is refused (INVALID_STATE): to correct the date, '
    + 'clear it with clearResidentStatus first.' })
  markResidentDeceased(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The resident\'s id.' }) id: string,
    @Arg('deceasedOn', { description: 'Date of death, ISO 8601 (YYYY-MM-DD): not in the future (JST), not before birth, a recorded move out or the last recorded dose.' }) deceasedOn: string,
  ) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.markDeceased(ctx, id, deceasedOn) }));
  }

  @Mutation(() => ResidentPayload, {
    description: '転出取消, or a mark entered for the wrong resident: undoes the last mark. A death goes back to the move out recorded '
      + 'before it, if any; otherwise the resident is ACTIVE again, with the move-out date, destination and date of death cleared. '
      + 'Keeps the reason (up to 500 characters). The tickets the mark voided stay void: issue the resident a new one with '
      + 'issueTickets. An active resident is refused (INVALID_STATE).',
  })
  clearResidentStatus(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The resident\'s id.' }) id: string,
    @Arg('reason', { description: 'Why, up to 500 characters; kept as statusClearedReason.' }) reason: string,
  ) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.clearStatus(ctx, id, reason) }));
  }

  @Mutation(() => DeleteResidentPayload, {
    description: 'For a resident registered by mistake: deletes the resident and their tickets. One with any vaccination record is refused (INVALID_STATE): mark them moved out or deceased, or correct their data, instead.',
  })
  deleteResident(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'The resident\'s id.' }) id: string) {
    return withUserErrors(async () => ({ deletedResidentId: await ctx.services.residents.delete(ctx, id) }));
  }
}
