import { subject } from '@casl/ability';
import { DataSource } from 'typeorm';
import { Context } from '../context';
import { Log } from '../log';
import { badArgument, ErrorCode, forbidden, identifierError } from '../errors';
import {
  CoverageCell,
  DailySeries,
  Statistics,
  StatisticsCell,
  StatisticsCount,
  StatisticsScopeInput,
  StatisticsScopeKind,
} from '../resolvers/statistics.types';
import { Sex } from '../schema/enums';
import { FIRST_VACCINATION_DAY, isIsoDate, normaliseDate, todayInJapan } from '../validation/dates';
import { VACCINES } from '../validation/vaccines';
import { checkMunicipalityCode, checkPrefectureCode } from '../validation/identifiers';
import { noMunicipalityMessage } from '../validation/own-codes';
import { published, suppressBreakdown, suppressCoverage, suppressDoseNumbers, suppressSeries } from './statistics.suppression';
import { repeatEvery } from './background';

export const DEFAULT_SUPPRESSION_THRESHOLD = 10;
const NATION = '00';
const MAX_SERIES_DAYS = 3700;
const DAY_MS = 86_400_000;

/**
 * What an answer reads: the population, the doses given in the range per dimension of stats_dose
 * (see migrations/1795600000000-statistics.ts), coverage's numerators (dimension C up to the end
 * of the range), doses per day, the country's dose numbers, the manufacturers outside the catalogue
 * given anywhere in the country, and the highest dose number the area had before a closed range.
 */
type Part = 'population' | 'D' | 'M' | 'A' | 'S' | 'people' | 'days' | 'doseNumbers' | 'makers' | 'before';

export const AGE_BANDS = ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60-64', '65-69', '70-79', '80-89', '90+'];
const SEXES = Object.values(Sex);

const MANUFACTURERS = [...new Set(VACCINES.map((v) => v.manufacturer))];

/** Runs `read` once per answer. */
function once<T>(s: Statistics, key: string, read: () => Promise<T>): Promise<T> {
  if (!s.read.has(key)) s.read.set(key, read());
  return s.read.get(key) as Promise<T>;
}

const DOSE_NUMBER_PARTS: Part[] = ['doseNumbers', 'people', 'D', 'population', 'before'];

/** The parts each figure field needs. */
const PARTS: Record<string, Part[]> = {
  registeredPopulation: ['population'],
  totalDoses: ['D'],
  coverage: DOSE_NUMBER_PARTS,
  byDoseNumber: DOSE_NUMBER_PARTS,
  dosesByDay: ['days'],
  byManufacturer: ['M', 'makers'],
  byAgeBand: ['A'],
  bySex: ['S'],
};

function checkDate(field: 'from' | 'to', value: string | null | undefined): string | null {
  // Blank is absent, spaces typed in a form (full-width ones too) as much as an empty string.
  const date = normaliseDate(value ?? '');
  if (date === '') return null;
  if (!isIsoDate(date)) throw badArgument([field], 'must be a real date written YYYY-MM-DD', ErrorCode.INVALID_DATE);
  return date;
}

const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);

/**
 * Aggregate statistics for governments and municipalities (DESIGN.md §1, §4.7). Figures come
 * from the trigger-maintained summary tables (main + not yet compacted deltas), never from the
 * record table; every published figure passes small-cell suppression.
 */
export class StatisticsService {
  constructor(private readonly db: DataSource, private readonly log: Log, readonly threshold: number = DEFAULT_SUPPRESSION_THRESHOLD) {}

  /** Folds the summary deltas written by the triggers into the summary tables. */
  async compact(): Promise<number> {
    const [row] = await this.db.query('SELECT stats_compact() AS folded');
    return Number(row.folded);
  }

  /**
   * Compacts every `seconds` in the background. Readers sum deltas too, so this bounds only
   * how many delta rows a query reads, never how fresh a figure is.
   */
  startCompaction(seconds: number): () => Promise<void> {
    return repeatEvery(seconds, 'statistics compaction', () => this.compact(), this.log);
  }

  /**
   * Checks the arguments, then the policy. `fields` are the fields the answer asks for: the
   * figures they need are read together, when the first of them is resolved.
   */
  async open(ctx: Context, input: StatisticsScopeInput, fromArg: string | null | undefined, toArg: string | null | undefined, fields: Iterable<string>): Promise<Statistics> {
    const from = checkDate('from', fromArg);
    const to = checkDate('to', toArg);
    if (from && to && from > to) throw badArgument(['to'], 'must not be before from', ErrorCode.INVALID_DATE);
    // Without to the range ends today, and is held to the same rules whichever figures are asked for.
    const until = to ?? todayInJapan();
    if (from && from > until) throw badArgument(['from'], 'must not be in the future when to is omitted: the range then ends today', ErrorCode.INVALID_DATE);
    if (from && daysBetween(from, until) > MAX_SERIES_DAYS) throw badArgument(['from'], `the range must be at most ${MAX_SERIES_DAYS} days`, ErrorCode.INVALID_DATE);

    const db = await ctx.session.manager();
    let prefectureCode: string | null = null;
    let municipalityCode: string | null = null;
    let name: string;
    const codeField = ['scope', 'code'];
    // Blank is absent: a code of spaces is no more a code than none.
    const code = input.code?.trim() ? input.code : null;
    if (input.kind === StatisticsScopeKind.NATION) {
      if (code) throw badArgument(codeField, 'must be omitted for kind NATION', ErrorCode.INVALID_FORMAT);
      name = '全国';
    } else if (!code) {
      throw badArgument(codeField, `required for kind ${input.kind}`, ErrorCode.REQUIRED);
    } else if (input.kind === StatisticsScopeKind.PREFECTURE) {
      const checked = checkPrefectureCode(code);
      if (!checked.ok) throw badArgument(codeField, checked.message, identifierError(checked.reason));
      prefectureCode = checked.value;
      const [row] = await db.query('SELECT name FROM prefecture WHERE code = $1', [prefectureCode]);
      if (!row) throw badArgument(codeField, 'is not a prefecture', ErrorCode.INVALID_FORMAT);
      name = row.name;
    } else {
      const checked = checkMunicipalityCode(code);
      if (!checked.ok) throw badArgument(codeField, checked.message, identifierError(checked.reason));
      municipalityCode = checked.value;
      const found = await ctx.loaders.municipality.load(municipalityCode);
      if (!found) throw badArgument(codeField, noMunicipalityMessage(municipalityCode), ErrorCode.UNKNOWN_MUNICIPALITY);
      prefectureCode = found.prefectureCode;
      name = found.name;
    }
    const target: Record<string, unknown> = { kind: input.kind, prefectureCode, municipalityCode };
    if (!ctx.ability.can('read', subject('Statistics', target))) throw forbidden();
    return {
      scope: { kind: input.kind, code: municipalityCode ?? prefectureCode, name },
      from,
      to,
      until,
      suppressionThreshold: this.threshold,
      area: municipalityCode ?? prefectureCode ?? NATION,
      parts: new Set([...fields].flatMap((field) => PARTS[field] ?? [])),
      db,
      read: new Map(),
    };
  }

  /**
   * One part of the answer's figures: values by category (by date for `days`; under '' for the
   * population and the highest dose number). Summary rows are main + not yet compacted deltas.
   */
  private async part(s: Statistics, part: Part): Promise<Map<string, number>> {
    const values = (await once(s, 'figures', () => this.readFigures(s))).get(part);
    if (!values) throw new Error(`statistics: ${part} was not read for this answer`);
    return values;
  }

  /**
   * Every part the answer's fields need, in one statement: one statement sees one snapshot, so
   * the figures of an answer agree with each other (a total with its breakdowns, the population
   * with coverage) even while doses are being committed. The request's transaction is READ
   * COMMITTED, where each statement would see what had committed by then.
   */
  private async readFigures(s: Statistics): Promise<Map<string, Map<string, number>>> {
    // Placeholders are numbered as first used: PostgreSQL refuses a parameter no placeholder names.
    const params: unknown[] = [];
    const placeholders = new Map<string, string>();
    const param = (name: string, value: unknown) => placeholders.get(name) ?? placeholders.set(name, `$${params.push(value)}`).get(name)!;
    const area = param('area', s.area);
    const to = () => param('to', s.to ?? 'infinity');
    const doses = (where: string) =>
      `SELECT dimension, category, vaccinated_on, doses FROM stats_dose WHERE ${where}
       UNION ALL SELECT dimension, category, vaccinated_on, doses FROM stats_dose_delta WHERE ${where}`;
    const inRange = (dimensions: string) => `area = ${area} AND dimension IN (${dimensions}) AND vaccinated_on BETWEEN ${param('from', s.from ?? '-infinity')} AND ${to()}`;

    const selects: string[] = [];
    if (s.parts.has('population')) {
      selects.push(`SELECT 'population' AS part, '' AS key, coalesce(sum(residents), 0) AS value FROM (
        SELECT residents FROM stats_population WHERE area = ${area}
        UNION ALL SELECT residents FROM stats_population_delta WHERE area = ${area}) x`);
    }
    const dimensions = (['D', 'M', 'A', 'S'] as const).filter((d) => s.parts.has(d));
    if (dimensions.length > 0) {
      selects.push(`SELECT dimension::text AS part, category AS key, sum(doses) AS value FROM (${doses(inRange(dimensions.map((d) => `'${d}'`).join(', ')))}) x GROUP BY 1, 2`);
    }
    if (s.parts.has('people')) {
      selects.push(`SELECT 'people' AS part, category AS key, sum(doses) AS value FROM (${doses(`area = ${area} AND dimension = 'C' AND vaccinated_on <= ${to()}`)}) x GROUP BY 2`);
    }
    if (s.parts.has('days')) {
      selects.push(`SELECT 'days' AS part, to_char(vaccinated_on, 'YYYY-MM-DD') AS key, sum(doses) AS value FROM (${doses(inRange("'D'"))}) x GROUP BY 2`);
    }
    if (s.parts.has('doseNumbers')) {
      selects.push(`SELECT 'doseNumbers' AS part, '' AS key, coalesce(max(category::int), 0) AS value FROM (
        SELECT category FROM (${doses(`area = '${NATION}' AND dimension IN ('D', 'C')`)}) x
        GROUP BY dimension, category HAVING sum(doses) > 0) given`);
    }
    if (s.parts.has('makers')) {
      selects.push(`SELECT 'makers' AS part, category AS key, 1 AS value FROM (
        ${doses(`area = '${NATION}' AND dimension = 'M' AND category <> ALL(${param('catalogue', MANUFACTURERS)})`)}) x
        GROUP BY category HAVING sum(doses) > 0`);
    }
    if (s.parts.has('before') && s.from) {
      selects.push(`SELECT 'before' AS part, '' AS key, coalesce(max(category::int), 0) AS value FROM (
        SELECT category FROM (${doses(`area = ${area} AND dimension = 'D' AND vaccinated_on < ${param('from', s.from)}`)}) x
        GROUP BY category HAVING sum(doses) > 0) given`);
    }

    const figures = new Map([...s.parts].map((part) => [part, new Map<string, number>()]));
    if (selects.length === 0) return figures;
    const rows: { part: Part; key: string; value: string }[] = await s.db.query(selects.join('\nUNION ALL\n'), params);
    for (const row of rows) if (Number(row.value) !== 0) figures.get(row.part)!.set(row.key, Number(row.value));
    return figures;
  }

  async registeredPopulation(s: Statistics): Promise<StatisticsCount> {
    return published(await this.population(s), this.threshold);
  }

  private async population(s: Statistics): Promise<number> {
    return (await this.part(s, 'population')).get('') ?? 0;
  }

  async totalDoses(s: Statistics): Promise<StatisticsCount> {
    const total = [...(await this.part(s, 'D')).values()].reduce((sum, n) => sum + n, 0);
    return published(total, this.threshold);
  }

  /**
   * A breakdown of the doses given in the range. Its categories do not depend on the area's own
   * figures, or a listed (even suppressed) category would say that the area had at least one:
   * age bands and sexes are fixed, manufacturers those of the vaccine catalogue and any other given
   * anywhere in the country, dose numbers those given anywhere in the country.
   */
  async breakdown(s: Statistics, dimension: 'D' | 'M' | 'A' | 'S'): Promise<StatisticsCell[]> {
    if (dimension === 'D') {
      const { labels, doses, hiddenDoses } = await this.doseNumberFigures(s);
      return labels.map((label, i) => (hiddenDoses.has(i) ? { label, value: null, suppressed: true } : { label, value: doses[i], suppressed: false }));
    }
    const values = await this.part(s, dimension);
    let labels: string[];
    if (dimension === 'A') labels = AGE_BANDS;
    else if (dimension === 'S') labels = SEXES;
    // A manufacturer outside the catalogue (a record from another system) is listed wherever one was
    // given in the country, as dose numbers are: listed only where it occurs, it would say so.
    else labels = [...new Set([...MANUFACTURERS, ...(await this.part(s, 'makers')).keys()])].sort();
    return suppressBreakdown(labels.map((label) => ({ label, value: values.get(label) ?? 0 })), this.threshold);
  }

  /**
   * Coverage and the dose-number breakdown. Where the breakdown counts from the start (every dose
   * number above the highest the area had before the range, all of them without a start date) the
   * two count nearly the same records, and those counts are ordered: there a dose number is hidden
   * in both or in neither, or one would give away what the other hides. Below it, in a closed range,
   * the breakdown counts the range's doses and coverage every dose up to its end, and each hides
   * what its own rule needs (suppressDoseNumbers, suppressCoverage).
   */
  private doseNumberFigures(s: Statistics): Promise<{ labels: string[]; people: number[]; doses: number[]; population: number; hiddenDoses: Set<number>; hiddenPeople: Set<number> }> {
    return once(s, 'doseNumberFigures', async () => {
      // 1 … the highest dose number given (or held by a resident) anywhere in the country: the same list for every area.
      const top = (await this.part(s, 'doseNumbers')).get('') ?? 0;
      const labels = Array.from({ length: top }, (_, i) => String(i + 1));
      const [people, doses, population] = [await this.part(s, 'people'), await this.part(s, 'D'), await this.population(s)];
      const before = (await this.part(s, 'before')).get('') ?? 0;
      const valuesOf = (values: Map<string, number>) => labels.map((label) => values.get(label) ?? 0);
      const figures = { labels, people: valuesOf(people), doses: valuesOf(doses), population };
      const hiddenDoses = suppressDoseNumbers(figures.people, population, figures.doses, this.threshold, before);
      return { ...figures, hiddenDoses, hiddenPeople: suppressCoverage(figures.people, population, hiddenDoses, this.threshold, before) };
    });
  }

  /**
   * Registered (ACTIVE) residents with at least N doses as of the end of the range, over the
   * registered population. Dose numbers have no gaps, so "at least N" = "has dose N".
   */
  async coverage(s: Statistics): Promise<CoverageCell[]> {
    const { labels, people, population, hiddenPeople: hidden } = await this.doseNumberFigures(s);
    const denominator = published(population, this.threshold);
    return labels.map((label, i) => ({
      doseNumber: Number(label),
      people: hidden.has(i) ? { value: null, suppressed: true } : { value: people[i], suppressed: false },
      ratio: hidden.has(i) || denominator.value === null || population === 0 ? null : people[i] / population,
    }));
  }

  /**
   * One entry per calendar day of the range (empty days included), for charts. An open range
   * runs from the first day of vaccination to today: bounds taken from the data would tell when
   * the area's first and last doses were, even with every count suppressed.
   */
  async dosesByDay(s: Statistics): Promise<DailySeries> {
    const values = await this.part(s, 'days');
    // A range given was held to MAX_SERIES_DAYS when the question was opened; an open one is cut to it here.
    const last = s.until;
    const first = s.from ?? [FIRST_VACCINATION_DAY, addDays(last, -MAX_SERIES_DAYS)].sort()[1];
    const series = [];
    // Counted in days, not compared as text: past 9999-12-31 an ISO date no longer sorts after the one before.
    for (let i = 0, days = daysBetween(first, last); i <= days; i++) {
      const d = addDays(first, i);
      series.push({ label: d, value: values.get(d) ?? 0 });
    }
    const days = suppressSeries(series, this.threshold);
    return {
      dates: days.map((d) => d.date),
      counts: days.map((d) => d.count.value),
      countsSuppressed: days.map((d) => d.count.suppressed),
      cumulative: days.map((d) => d.cumulative.value),
      cumulativeSuppressed: days.map((d) => d.cumulative.suppressed),
    };
  }
}
