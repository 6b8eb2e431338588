import { GraphQLResolveInfo, Kind, SelectionSetNode } from 'graphql';
import { Arg, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import { Context } from '../context';
import { CoverageCell, DailySeries, Statistics, StatisticsCell, StatisticsCount, StatisticsScopeInput } from './statistics.types';

/** The names of the fields selected on the field being resolved, fragments included. */
function selectedFields(info: GraphQLResolveInfo): Set<string> {
  const names = new Set<string>();
  // A fragment is read once however often it is spread, as in the request's root fields (server.ts).
  const read = new Set<string>();
  const visit = (selectionSet: SelectionSetNode | undefined) => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (!read.has(selection.name.value)) {
        read.add(selection.name.value);
        visit(info.fragments[selection.name.value]?.selectionSet);
      }
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet);
  return names;
}

@Resolver(() => Statistics)
export class StatisticsResolver {
  @Query(() => Statistics, {
    description: 'Aggregate figures for the nation, a prefecture or a municipality. Dates are ISO 8601 (YYYY-MM-DD), inclusive.',
  })
  statistics(
    @Ctx() ctx: Context,
    @Arg('scope', () => StatisticsScopeInput, { description: 'A municipality reads its own; a prefecture itself, its municipalities and the nation; the national government any.' }) scope: StatisticsScopeInput,
    @Arg('from', () => String, { nullable: true, description: 'First vaccination date counted, ISO 8601; omitted, from the start.' }) from: string | null | undefined,
    @Arg('to', () => String, { nullable: true, description: 'Last vaccination date counted, ISO 8601; not before from, at most 3700 days after it; omitted, up to now.' }) to: string | null | undefined,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Statistics> {
    return ctx.services.statistics.open(ctx, scope, from, to, selectedFields(info));
  }

  @FieldResolver(() => StatisticsCount, { description: 'Residents currently registered (status ACTIVE).' })
  registeredPopulation(@Ctx() ctx: Context, @Root() s: Statistics): Promise<StatisticsCount> {
    return ctx.services.statistics.registeredPopulation(s);
  }

  @FieldResolver(() => StatisticsCount, { description: 'Doses given in the range.' })
  totalDoses(@Ctx() ctx: Context, @Root() s: Statistics): Promise<StatisticsCount> {
    return ctx.services.statistics.totalDoses(s);
  }

  @FieldResolver(() => [CoverageCell], { description: 'Per dose number, as of the end of the range (the start is ignored).' })
  coverage(@Ctx() ctx: Context, @Root() s: Statistics): Promise<CoverageCell[]> {
    return ctx.services.statistics.coverage(s);
  }

  @FieldResolver(() => DailySeries, { description: 'Every day of the range, empty days included; an open range runs from 2021-02-17, when vaccination began, to today.' })
  dosesByDay(@Ctx() ctx: Context, @Root() s: Statistics): Promise<DailySeries> {
    return ctx.services.statistics.dosesByDay(s);
  }

  @FieldResolver(() => [StatisticsCell], { description: 'Doses given in the range, by dose number.' })
  byDoseNumber(@Ctx() ctx: Context, @Root() s: Statistics): Promise<StatisticsCell[]> {
    return ctx.services.statistics.breakdown(s, 'D');
  }

  @FieldResolver(() => [StatisticsCell], { description: 'Doses given in the range, by vaccine manufacturer.' })
  byManufacturer(@Ctx() ctx: Context, @Root() s: Statistics): Promise<StatisticsCell[]> {
    return ctx.services.statistics.breakdown(s, 'M');
  }

  @FieldResolver(() => [StatisticsCell], { description: 'Doses given in the range, by age at the vaccination date: 10-year bands, the sixties split at 65.' })
  byAgeBand(@Ctx() ctx: Context, @Root() s: Statistics): Promise<StatisticsCell[]> {
    return ctx.services.statistics.breakdown(s, 'A');
  }

  @FieldResolver(() => [StatisticsCell], { description: 'Doses given in the range, by sex.' })
  bySex(@Ctx() ctx: Context, @Root() s: Statistics): Promise<StatisticsCell[]> {
    return ctx.services.statistics.breakdown(s, 'S');
  }
}
