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
    @Arg('filter', () => ResidentFilter, { nullable: true }) filter?: ResidentFilter,
    @Arg('first', () => Int, { defaultValue: 50, description: pageSizeDescription }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<ResidentConnection> {
    return ctx.services.residents.list(ctx, filter ?? {}, first, after);
  }

  @Query(() => Resident, { nullable: true, description: 'Null when the resident does not exist or is not the caller\'s.' })
  resident(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<Resident | null> {
    return ctx.services.residents.get(ctx, id);
  }

  @Query(() => Resident, { nullable: true, description: 'Look-up by My Number within the caller\'s municipality. LG-WAN only.' })
  residentByMyNumber(@Ctx() ctx: Context, @Arg('myNumber') myNumber: string): Promise<Resident | null> {
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

  @FieldResolver(() => Municipality)
  async municipality(@Ctx() ctx: Context, @Root() resident: Resident): Promise<Municipality | null> {
    return ctx.loaders.municipality.load(resident.municipalityCode);
  }

  @Mutation(() => ResidentPayload)
  registerResident(@Ctx() ctx: Context, @Arg('input', () => RegisterResidentInput) input: RegisterResidentInput) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.register(ctx, input) }));
  }

  @Mutation(() => ResidentPayload)
  updateResident(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('input', () => UpdateResidentInput) input: UpdateResidentInput) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.update(ctx, id, input) }));
  }

  @Mutation(() => ResidentPayload, { description: '転出: voids the resident\'s open tickets. A resident already moved out or deceased is refused (INVALID_STATE): '
    + 'to correct a move out, clear it with clearResidentStatus first.' })
  markResidentMovedOut(
    @Ctx() ctx: Context,
    @Arg('id', () => ID) id: string,
    @Arg('movedOutOn') movedOutOn: string,
    @Arg('destinationMunicipalityCode', () => String, { nullable: true }) destination?: string,
  ) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.markMovedOut(ctx, id, movedOutOn, destination) }));
  }

  @Mutation(() => ResidentPayload, { description: '死亡: voids the resident\'s open tickets. A resident already deceased is refused (INVALID_STATE): to correct the date, '
    + 'clear it with clearResidentStatus first.' })
  markResidentDeceased(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('deceasedOn') deceasedOn: string) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.markDeceased(ctx, id, deceasedOn) }));
  }

  @Mutation(() => ResidentPayload, {
    description: '転出取消, or a mark entered for the wrong resident: undoes the last mark. A death goes back to the move out recorded '
      + 'before it, if any; otherwise the resident is ACTIVE again, with the move-out date, destination and date of death cleared. '
      + 'Keeps the reason (up to 500 characters). The tickets the mark voided stay void: issue the resident a new one with '
      + 'issueTickets. An active resident is refused (INVALID_STATE).',
  })
  clearResidentStatus(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('reason') reason: string) {
    return withUserErrors(async () => ({ resident: await ctx.services.residents.clearStatus(ctx, id, reason) }));
  }

  @Mutation(() => DeleteResidentPayload)
  deleteResident(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return withUserErrors(async () => ({ deletedResidentId: await ctx.services.residents.delete(ctx, id) }));
  }
}
