import type { EntityManager } from 'typeorm';
import { Field, Float, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum StatisticsScopeKind {
  NATION = 'NATION',
  PREFECTURE = 'PREFECTURE',
  MUNICIPALITY = 'MUNICIPALITY',
}
registerEnumType(StatisticsScopeKind, { name: 'StatisticsScopeKind' });

@InputType({ description: 'Whose figures: the nation, one prefecture (code 01–47) or one municipality (6-digit code).' })
export class StatisticsScopeInput {
  @Field(() => StatisticsScopeKind) kind: StatisticsScopeKind;
  @Field(() => String, { nullable: true, description: 'Prefecture or municipality code; omitted for NATION.' }) code?: string | null;
}

@ObjectType({ description: 'The area the figures describe.' })
export class StatisticsScope {
  @Field(() => StatisticsScopeKind) kind: StatisticsScopeKind;
  @Field(() => String, { nullable: true }) code: string | null;
  @Field() name: string;
}

@ObjectType({ description: 'A count, or null and suppressed when publishing it could single out a person.' })
export class StatisticsCount {
  @Field(() => Int, { nullable: true }) value: number | null;
  @Field() suppressed: boolean;
}

@ObjectType({ description: 'One cell of a breakdown.' })
export class StatisticsCell {
  @Field() label: string;
  @Field(() => Int, { nullable: true }) value: number | null;
  @Field() suppressed: boolean;
}

@ObjectType({ description: 'Registered residents with at least this many doses, as of the end of the range.' })
export class CoverageCell {
  @Field(() => Int) doseNumber: number;
  @Field(() => StatisticsCount) people: StatisticsCount;
  @Field(() => Float, { nullable: true, description: 'people / registeredPopulation; null when either is suppressed.' }) ratio: number | null;
}

@ObjectType({
  description:
    'Doses per day as parallel arrays (one entry per calendar day, empty days included), ready for a chart: ' +
    'labels = dates, data = counts or cumulative. A suppressed entry is null and flagged.',
})
export class DailySeries {
  @Field(() => [String]) dates: string[];
  @Field(() => [Int], { nullable: 'items' }) counts: (number | null)[];
  @Field(() => [Boolean]) countsSuppressed: boolean[];
  @Field(() => [Int], { nullable: 'items', description: 'Running total since the start of the range.' }) cumulative: (number | null)[];
  @Field(() => [Boolean]) cumulativeSuppressed: boolean[];
}

/**
 * Aggregate figures for one scope and date range. Only labels and counts: no field leads to a
 * resident or a record. Only the figures asked for are read.
 */
@ObjectType({ description: 'Aggregate vaccination statistics for one scope and date range.' })
export class Statistics {
  @Field(() => StatisticsScope) scope: StatisticsScope;
  @Field(() => String, { nullable: true, description: 'First vaccination date counted (inclusive); null = from the start.' }) from: string | null;
  @Field(() => String, { nullable: true, description: 'Last vaccination date counted (inclusive); null = up to now.' }) to: string | null;
  @Field(() => Int, { description: 'Counts below this are suppressed.' }) suppressionThreshold: number;

  /** Where to read from: the area key of the summary tables. Not exposed. */
  area: string;

  /** What the fields asked for need read, all in one statement (one snapshot). Not exposed. */
  parts: ReadonlySet<string>;

  /** The request's database session. Not exposed. */
  db: EntityManager;

  /** What has been read or worked out for this answer, by what it is: several figures share one. Not exposed. */
  read: Map<string, Promise<unknown>>;
}
