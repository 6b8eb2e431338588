import { subject } from '@casl/ability';
import { DataSource } from 'typeorm';
import { Context } from '../context';
import { badArgument, forbidden } from '../errors';
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
import { FIRST_VACCINATION_DAY, isIsoDate, todayInJapan } from '../validation/dates';
import { VACCINES } from '../validation/vaccines';
import { checkMunicipalityCode, checkPrefectureCode, normaliseDigits } from '../validation/identifiers';
import { published, suppressBreakdown, suppressDoseNumbers, suppressSeries } from './statistics.suppression';

export const DEFAULT_SUPPRESSION_THRESHOLD = 10;
const NATION = '00';
const MAX_SERIES_DAYS = 3700;
const DAY_MS = 86_400_000;

/** Dimensions of stats_dose, see migrations/1795600000000-statistics.ts. */
type Dimension = 'D' | 'M' | 'A' | 'S' | 'C';

export const AGE_BANDS = ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60-64', '65-69', '70-79', '80-89', '90+'];
const SEXES = Object.values(Sex);

const MANUFACTURERS = [...new Set(VACCINES.map((v) => v.manufacturer))];

/** Runs `read` once per answer: total doses and the dose-number breakdown share their sums, population and coverage their population. */
function once<T>(s: Statistics, key: string, read: () => Promise<T>): Promise<T> {
  if (!s.read.has(key)) s.read.set(key, read());
  return s.read.get(key) as Promise<T>;
}


function checkDate(field: 'from' | 'to', value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const date = normaliseDigits(value);
  if (!isIsoDate(date)) throw badArgument([field], 'must be a real date written YYYY-MM-DD');
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
  constructor(private readonly db: DataSource, readonly threshold: number = DEFAULT_SUPPRESSION_THRESHOLD) {}

  /** Folds the summary deltas written by the triggers into the summary tables. */
  async compact(): Promise<number> {
    const [row] = await this.db.query('SELECT stats_compact() AS folded');
    return Number(row.folded);
  }

  /**
   * Compacts every `seconds` in the background. Readers sum deltas too, so this bounds only
   * how many delta rows a query reads, never how fresh a figure is.
   */
  startCompaction(seconds: number): () => void {
    if (seconds <= 0) return () => undefined;
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.compact()
        .catch((error: unknown) => console.error('statistics compaction failed:', error instanceof Error ? error.message : error))
        .finally(() => {
          running = false;
        });
    }, seconds * 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Checks the arguments, then the policy; the figures are computed per field when asked for. */
  async open(ctx: Context, input: StatisticsScopeInput, fromArg?: string | null, toArg?: string | null): Promise<Statistics> {
    const from = checkDate('from', fromArg);
    const to = checkDate('to', toArg);
    if (from && to && from > to) throw badArgument(['to'], 'must not be before from');
    if (from && to && daysBetween(from, to) > MAX_SERIES_DAYS) throw badArgument(['from'], `the range must be at most ${MAX_SERIES_DAYS} days`);

    const db = await ctx.session.manager();
    let prefectureCode: string | null = null;
    let municipalityCode: string | null = null;
    let name: string;
    if (input.kind === StatisticsScopeKind.NATION) {
      if (input.code) throw badArgument(['scope'], 'a NATION scope takes no code');
      name = '全国';
    } else if (input.kind === StatisticsScopeKind.PREFECTURE) {
      const checked = checkPrefectureCode(input.code ?? '');
      if (!checked.ok) throw badArgument(['scope'], `code ${checked.message}`);
      prefectureCode = checked.value;
      const [row] = await db.query('SELECT name FROM prefecture WHERE code = $1', [prefectureCode]);
      if (!row) throw badArgument(['scope'], 'code is not a prefecture');
      name = row.name;
    } else {
      const checked = checkMunicipalityCode(input.code ?? '');
      if (!checked.ok) throw badArgument(['scope'], `code ${checked.message}`);
      municipalityCode = checked.value;
      const found = await ctx.loaders.municipality.load(municipalityCode);
      if (!found) throw badArgument(['scope'], 'code is not a municipality in the national list');
      prefectureCode = found.prefectureCode;
      name = found.name;
    }
    const target: Record<string, unknown> = { kind: input.kind, prefectureCode, municipalityCode };
    if (!ctx.ability.can('read', subject('Statistics', target))) throw forbidden();
    return {
      scope: { kind: input.kind, code: municipalityCode ?? prefectureCode, name },
      from,
      to,
      suppressionThreshold: this.threshold,
      area: municipalityCode ?? prefectureCode ?? NATION,
      db,
      read: new Map(),
    };
  }

  /** Sums of one dimension per category (and per day when `byDay`), over main + delta rows. */
  private sums(s: Statistics, dimension: Dimension, byDay: boolean, from = s.from): Promise<{ category: string; day: string | null; value: number }[]> {
    return once(s, `sums|${dimension}|${byDay}|${from}`, () => this.sumsOnce(s, dimension, byDay, from));
  }

  private async sumsOnce(s: Statistics, dimension: Dimension, byDay: boolean, from: string | null): Promise<{ category: string; day: string | null; value: number }[]> {
    const day = byDay ? "to_char(vaccinated_on, 'YYYY-MM-DD')" : 'NULL';
    const rows: { category: string; day: string | null; value: string }[] = await s.db.query(
      `SELECT ${byDay ? "'' AS category" : 'category'}, ${day} AS day, sum(doses) AS value
       FROM (SELECT category, vaccinated_on, doses FROM stats_dose
               WHERE area = $1 AND dimension = $2 AND vaccinated_on BETWEEN $3 AND $4
             UNION ALL
             SELECT category, vaccinated_on, doses FROM stats_dose_delta
               WHERE area = $1 AND dimension = $2 AND vaccinated_on BETWEEN $3 AND $4) x
       GROUP BY 1, 2`,
      [s.area, dimension, from ?? '-infinity', s.to ?? 'infinity'],
    );
    return rows.map((r) => ({ category: r.category, day: r.day, value: Number(r.value) })).filter((r) => r.value !== 0);
  }

  async registeredPopulation(s: Statistics): Promise<StatisticsCount> {
    return published(await this.population(s), this.threshold);
  }

  private population(s: Statistics): Promise<number> {
    return once(s, 'population', () => this.populationOnce(s));
  }

  private async populationOnce(s: Statistics): Promise<number> {
    const [row] = await s.db.query(
      `SELECT coalesce(sum(residents), 0) AS value FROM (
         SELECT residents FROM stats_population WHERE area = $1
         UNION ALL SELECT residents FROM stats_population_delta WHERE area = $1) x`,
      [s.area],
    );
    return Number(row.value);
  }

  async totalDoses(s: Statistics): Promise<StatisticsCount> {
    const total = (await this.sums(s, 'D', false)).reduce((sum, r) => sum + r.value, 0);
    return published(total, this.threshold);
  }

  /**
   * A breakdown of the doses given in the range. Its categories do not depend on the area's own
   * figures, or a listed (even suppressed) category would say that the area had at least one:
   * age bands and sexes are fixed, manufacturers those of the vaccine catalogue, dose numbers
   * those given anywhere in the country.
   */
  async breakdown(s: Statistics, dimension: 'D' | 'M' | 'A' | 'S'): Promise<StatisticsCell[]> {
    if (dimension === 'D') {
      const { labels, doses, hidden } = await this.doseNumberFigures(s);
      return labels.map((label, i) => (hidden.has(i) ? { label, value: null, suppressed: true } : { label, value: doses[i], suppressed: false }));
    }
    const values = new Map((await this.sums(s, dimension, false)).map((r) => [r.category, r.value]));
    let labels: string[];
    if (dimension === 'A') labels = AGE_BANDS;
    else if (dimension === 'S') labels = SEXES;
    // A manufacturer outside the catalogue (a record from another system) is listed where it occurs.
    else labels = [...new Set([...MANUFACTURERS, ...values.keys()])].sort();
    return suppressBreakdown(labels.map((label) => ({ label, value: values.get(label) ?? 0 })), this.threshold);
  }

  /**
   * Coverage and the dose-number breakdown, with the dose numbers hidden in both: over an open
   * start the two count nearly the same records, so they are suppressed by one decision
   * (suppressDoseNumbers), or one would give away what the other hides.
   */
  private doseNumberFigures(s: Statistics): Promise<{ labels: string[]; people: number[]; doses: number[]; population: number; hidden: Set<number> }> {
    return once(s, 'doseNumberFigures', async () => {
      const [labels, people, doses, population] = await Promise.all([
        this.doseNumbers(s),
        this.sums(s, 'C', false, null),
        this.sums(s, 'D', false),
        this.population(s),
      ]);
      const valuesOf = (rows: { category: string; value: number }[]) => {
        const byLabel = new Map(rows.map((r) => [r.category, r.value]));
        return labels.map((label) => byLabel.get(label) ?? 0);
      };
      const figures = { labels, people: valuesOf(people), doses: valuesOf(doses), population };
      return { ...figures, hidden: suppressDoseNumbers(figures.people, population, figures.doses, this.threshold) };
    });
  }

  /** 1 … the highest dose number given (or held by a resident) anywhere in the country: the same list for every area. */
  private doseNumbers(s: Statistics): Promise<string[]> {
    return once(s, 'doseNumbers', async () => {
      const [row] = await s.db.query(
        `SELECT coalesce(max(category::int), 0) AS top FROM (
           SELECT category FROM (
             SELECT dimension, category, doses FROM stats_dose WHERE area = $1 AND dimension IN ('D', 'C')
             UNION ALL SELECT dimension, category, doses FROM stats_dose_delta WHERE area = $1 AND dimension IN ('D', 'C')) x
           GROUP BY dimension, category HAVING sum(doses) > 0) given`,
        [NATION],
      );
      return Array.from({ length: Number(row.top) }, (_, i) => String(i + 1));
    });
  }

  /**
   * Registered (ACTIVE) residents with at least N doses as of the end of the range, over the
   * registered population. Dose numbers have no gaps, so "at least N" = "has dose N".
   */
  async coverage(s: Statistics): Promise<CoverageCell[]> {
    const { labels, people, population, hidden } = await this.doseNumberFigures(s);
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
    const rows = await this.sums(s, 'D', true);
    const values = new Map(rows.map((r) => [r.day!, r.value]));
    const last = s.to ?? todayInJapan();
    const first = s.from ?? [FIRST_VACCINATION_DAY, addDays(last, -MAX_SERIES_DAYS)].sort()[1];
    if (daysBetween(first, last) > MAX_SERIES_DAYS) throw badArgument([s.from ? 'from' : 'to'], `the range must be at most ${MAX_SERIES_DAYS} days`);
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
