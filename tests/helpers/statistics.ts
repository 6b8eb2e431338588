import { randomUUID } from 'node:crypto';
import { VACCINES } from '../../src/validation/vaccines';
import { TestApp } from './test-app';

export const STATISTICS = `query($scope: StatisticsScopeInput!, $from: String, $to: String) {
  statistics(scope: $scope, from: $from, to: $to) {
    scope { kind code name }
    from to suppressionThreshold
    registeredPopulation { value suppressed }
    totalDoses { value suppressed }
    coverage { doseNumber people { value suppressed } ratio }
    dosesByDay { dates counts countsSuppressed cumulative cumulativeSuppressed }
    byDoseNumber { label value suppressed }
    byManufacturer { label value suppressed }
    byAgeBand { label value suppressed }
    bySex { label value suppressed }
  }
}`;

export interface DoseOverrides {
  doseNumber?: number;
  vaccinatedOn?: string;
  manufacturer?: string;
  status?: 'COMPLETED' | 'SUPERSEDED' | 'ENTERED_IN_ERROR';
  source?: 'TABLET' | 'OFFICER' | 'CSV' | 'INQUIRY';
}

/** Inserts a vaccination record directly (the dose-registration API is not what is under test). */
export async function insertDose(t: TestApp, municipalityCode: string, residentId: string, o: DoseOverrides = {}): Promise<string> {
  const id = randomUUID();
  const status = o.status ?? 'COMPLETED';
  await t.db.query(
    `INSERT INTO vaccination_record (municipality_code, id, resident_id, dose_number, vaccinated_on, vaccine_code, manufacturer,
       product, lot_number, site_municipality_code, source, status, status_reason, status_changed_at)
     VALUES ($1, $2, $3, $4, $5, 'V1', $6, 'Product', 'LOT1', $1, $7, $8, $9, $10)`,
    [municipalityCode, id, residentId, o.doseNumber ?? 1, o.vaccinatedOn ?? '2021-06-01', o.manufacturer ?? 'Pfizer', o.source ?? 'TABLET',
      status, status === 'COMPLETED' ? null : 'test', status === 'COMPLETED' ? null : new Date()],
  );
  return id;
}

/** A correction as the record service makes it: the old record superseded, a new COMPLETED one in its place. */
export async function correctDose(t: TestApp, municipalityCode: string, recordId: string, changes: DoseOverrides): Promise<string> {
  const [old] = await t.db.query('SELECT * FROM vaccination_record WHERE municipality_code = $1 AND id = $2', [municipalityCode, recordId]);
  return t.db.transaction(async (tx) => {
    await tx.query(
      `UPDATE vaccination_record SET status = 'SUPERSEDED', status_reason = 'corrected', status_changed_at = now()
       WHERE municipality_code = $1 AND id = $2`,
      [municipalityCode, recordId],
    );
    const id = randomUUID();
    await tx.query(
      `INSERT INTO vaccination_record (municipality_code, id, resident_id, dose_number, vaccinated_on, vaccine_code, manufacturer,
         product, lot_number, site_municipality_code, source)
       VALUES ($1, $2, $3, $4, $5, 'V1', $6, 'Product', 'LOT1', $1, $7)`,
      // A correction keeps the record's source, as the service's does: an inquiry's copy stays one.
      [municipalityCode, id, old.resident_id, changes.doseNumber ?? old.dose_number, changes.vaccinatedOn ?? old.vaccinated_on,
        changes.manufacturer ?? old.manufacturer, old.source],
    );
    return id;
  });
}

const AGE_BANDS = ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60-64', '65-69', '70-79', '80-89', '90+'];

export function ageBand(birth: string, on: string): string {
  const age = Number(on.slice(0, 4)) - Number(birth.slice(0, 4)) - (on.slice(5) < birth.slice(5) ? 1 : 0);
  if (age >= 90) return '90+';
  if (age >= 70) return `${Math.floor(age / 10) * 10}-${Math.floor(age / 10) * 10 + 9}`;
  if (age >= 65) return '65-69';
  if (age >= 60) return '60-64';
  return `${Math.floor(age / 10) * 10}-${Math.floor(age / 10) * 10 + 9}`;
}

export interface Figures {
  registeredPopulation: number;
  totalDoses: number;
  coverage: Record<string, number>;
  byDay: Record<string, number>;
  byDoseNumber: Record<string, number>;
  byManufacturer: Record<string, number>;
  byAgeBand: Record<string, number>;
  bySex: Record<string, number>;
}

const bump = (m: Record<string, number>, key: string) => {
  m[key] = (m[key] ?? 0) + 1;
};

/**
 * Every figure counted the slow way, from the source rows, in JavaScript: an oracle that shares
 * nothing with the triggers. `where` selects the municipalities (SQL on column municipality_code).
 */
export async function bruteForce(t: TestApp, where: { municipality?: string; prefecture?: string }, from?: string, to?: string): Promise<Figures> {
  const filter = (alias: string) => (where.municipality ? `${alias}municipality_code = $1` : `left(${alias}municipality_code, 2) = $1`);
  const key = where.municipality ?? where.prefecture;
  const residents: { status: string }[] = await t.db.query(`SELECT status FROM resident WHERE ${filter('')}`, [key]);
  const records: { dose_number: number; vaccinated_on: string; manufacturer: string; source: string; status: string; birth_date: string; sex: string; resident_status: string }[] =
    await t.db.query(
      `SELECT v.dose_number, to_char(v.vaccinated_on, 'YYYY-MM-DD') AS vaccinated_on, v.manufacturer, v.source, v.status,
              to_char(p.birth_date, 'YYYY-MM-DD') AS birth_date, p.sex, p.status AS resident_status
       FROM vaccination_record v JOIN resident p ON p.municipality_code = v.municipality_code AND p.id = v.resident_id
       WHERE ${filter('v.')}`,
      [key],
    );
  // Dose numbers are listed up to the highest anywhere in the country.
  const [{ top }] = await t.db.query(
    `SELECT coalesce(max(v.dose_number), 0) AS top FROM vaccination_record v JOIN resident p ON p.municipality_code = v.municipality_code AND p.id = v.resident_id
     WHERE v.status = 'COMPLETED' AND (v.source <> 'INQUIRY' OR p.status = 'ACTIVE')`,
  );
  const doseNumbers = () => Object.fromEntries(Array.from({ length: top }, (_, i) => [String(i + 1), 0]));
  // Manufacturers as the catalogue has them, and any other given anywhere in the country.
  const makers: { manufacturer: string }[] = await t.db.query(
    `SELECT DISTINCT manufacturer FROM vaccination_record WHERE status = 'COMPLETED' AND source <> 'INQUIRY'`,
  );
  const f: Figures = {
    registeredPopulation: residents.filter((r) => r.status === 'ACTIVE').length,
    totalDoses: 0,
    coverage: doseNumbers(),
    byDay: {},
    byDoseNumber: doseNumbers(),
    byManufacturer: Object.fromEntries([...VACCINES.map((v) => v.manufacturer), ...makers.map((m) => m.manufacturer)].map((m) => [m, 0])),
    byAgeBand: Object.fromEntries(AGE_BANDS.map((b) => [b, 0])),
    bySex: { MALE: 0, FEMALE: 0 },
  };
  for (const r of records) {
    if (r.status !== 'COMPLETED') continue;
    if (r.resident_status === 'ACTIVE' && (!to || r.vaccinated_on <= to)) bump(f.coverage, String(r.dose_number));
    if (r.source === 'INQUIRY' || (from && r.vaccinated_on < from) || (to && r.vaccinated_on > to)) continue;
    f.totalDoses++;
    bump(f.byDay, r.vaccinated_on);
    bump(f.byDoseNumber, String(r.dose_number));
    bump(f.byManufacturer, r.manufacturer);
    bump(f.byAgeBand, ageBand(r.birth_date, r.vaccinated_on));
    bump(f.bySex, r.sex);
  }
  return f;
}

type Cell = { label: string; value: number | null; suppressed: boolean };

/** The published statistics in the shape of Figures (suppressed cells as null). */
export function asFigures(s: any): Record<string, unknown> {
  const cells = (list: Cell[]) => Object.fromEntries(list.map((c) => [c.label, c.value]));
  return {
    registeredPopulation: s.registeredPopulation.value,
    totalDoses: s.totalDoses.value,
    coverage: Object.fromEntries(s.coverage.map((c: any) => [String(c.doseNumber), c.people.value])),
    byDay: Object.fromEntries(days(s.dosesByDay).filter((d) => d.count.value !== 0).map((d) => [d.date, d.count.value])),
    byDoseNumber: cells(s.byDoseNumber),
    byManufacturer: cells(s.byManufacturer),
    byAgeBand: cells(s.byAgeBand),
    bySex: cells(s.bySex),
  };
}

/** The columnar daily series as one entry per day. */
export function days(series: any): { date: string; count: { value: number | null; suppressed: boolean }; cumulative: { value: number | null; suppressed: boolean } }[] {
  return series.dates.map((date: string, i: number) => ({
    date,
    count: { value: series.counts[i], suppressed: series.countsSuppressed[i] },
    cumulative: { value: series.cumulative[i], suppressed: series.cumulativeSuppressed[i] },
  }));
}
