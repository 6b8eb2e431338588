import type { EntityManager } from 'typeorm';
import { Field, Float, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum StatisticsScopeKind {
  NATION = 'NATION',
  PREFECTURE = 'PREFECTURE',
  MUNICIPALITY = 'MUNICIPALITY',
}
registerEnumType(StatisticsScopeKind, {
  name: 'StatisticsScopeKind',
  description: 'The kind of area figures describe.',
  valuesConfig: {
    NATION: { description: 'All of Japan (全国); no code.' },
    PREFECTURE: { description: 'One prefecture, by its 2-digit code (01–47).' },
    MUNICIPALITY: { description: 'One municipality, by its 6-digit code.' },
  },
});

@InputType({ description: 'Whose figures: the nation, one prefecture (code 01–47) or one municipality (6-digit code).' })
export class StatisticsScopeInput {
  @Field(() => StatisticsScopeKind, { description: 'NATION, PREFECTURE or MUNICIPALITY.' }) kind: StatisticsScopeKind;
  @Field(() => String, { nullable: true, description: 'Prefecture or municipality code; omitted for NATION.' }) code?: string | null;
}

@ObjectType({ description: 'The area the figures describe.' })
export class StatisticsScope {
  @Field(() => StatisticsScopeKind, { description: 'NATION, PREFECTURE or MUNICIPALITY.' }) kind: StatisticsScopeKind;
  @Field(() => String, { nullable: true, description: 'The prefecture or municipality code; null for NATION.' }) code: string | null;
  @Field({ description: 'Its name in Japanese, e.g. 全国, 東京都.' }) name: string;
}

@ObjectType({ description: 'A count, or null and suppressed when publishing it could single out a person.' })
export class StatisticsCount {
  @Field(() => Int, { nullable: true, description: 'The count; null when suppressed.' }) value: number | null;
  @Field({ description: 'True when the count is withheld (value null).' }) suppressed: boolean;
}

@ObjectType({ description: 'One cell of a breakdown.' })
export class StatisticsCell {
  @Field({ description: 'What the cell counts: an age band, dose number, manufacturer or sex.' }) label: string;
  @Field(() => Int, { nullable: true, description: 'The count; null when suppressed.' }) value: number | null;
  @Field({ description: 'True when the count is withheld (value null).' }) suppressed: boolean;
}

@ObjectType({ description: 'Registered residents with at least this many doses, as of the end of the range.' })
export class CoverageCell {
  @Field(() => Int, { description: 'Residents counted have at least this many doses.' }) doseNumber: number;
  @Field(() => StatisticsCount, { description: 'How many registered residents have at least doseNumber doses.' }) people: StatisticsCount;
  @Field(() => Float, { nullable: true, description: 'people / registeredPopulation; null when either is suppressed.' }) ratio: number | null;
}

@ObjectType({
  description:
    'Doses per day as parallel arrays (one entry per calendar day, empty days included), ready for a chart: ' +
    'labels = dates, data = counts or cumulative. A suppressed entry is null and flagged.',
})
export class DailySeries {
  @Field(() => [String], { description: 'Vaccination dates, ISO 8601 (YYYY-MM-DD), in order.' }) dates: string[];
  @Field(() => [Int], { nullable: 'items', description: 'Doses given on each date; null where suppressed.' }) counts: (number | null)[];
  @Field(() => [Boolean], { description: 'True where the count of that date is withheld.' }) countsSuppressed: boolean[];
  @Field(() => [Int], { nullable: 'items', description: 'Running total since the start of the range.' }) cumulative: (number | null)[];
  @Field(() => [Boolean], { description: 'True where the running total of that date is withheld.' }) cumulativeSuppressed: boolean[];
}

/**
 * Aggregate figures for one scope and date range. Only labels and counts: no field leads to a
 * resident or a record. Only the figures asked for are read.
 */
@ObjectType({ description: 'Aggregate vaccination statistics for one scope and date range.' })
export class Statistics {
  @Field(() => StatisticsScope, { description: 'The area the figures describe.' }) scope: StatisticsScope;
  @Field(() => String, { nullable: true, description: 'First vaccination date counted (inclusive); null = from the start.' }) from: string | null;
  @Field(() => String, { nullable: true, description: 'Last vaccination date counted (inclusive); null = up to now.' }) to: string | null;
  @Field(() => Int, { description: 'Counts below this are suppressed.' }) suppressionThreshold: number;

  /** The range's last day: `to`, or the day in Japan the question was asked. Not exposed. */
  until: string;

  /** Where to read from: the area key of the summary tables. Not exposed. */
  area: string;

  /** What the fields asked for need read, all in one statement (one snapshot). Not exposed. */
  parts: ReadonlySet<string>;

  /** The request's database session. Not exposed. */
  db: EntityManager;

  /** What has been read or worked out for this answer, by what it is: several figures share one. Not exposed. */
  read: Map<string, Promise<unknown>>;
}
