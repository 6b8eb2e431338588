import { Channel, Role } from '../../src/schema/enums';
import { breakdownLeaks, orderedDoseLeaks } from '../helpers/disclosure';
import { bruteForce, insertDose, STATISTICS } from '../helpers/statistics';
import { registerResident, Session, TestApp } from '../helpers/test-app';

/**
 * What one answer's dose numbers give away: coverage and the dose-number breakdown read together,
 * with what a reader knows of doses (no gaps: a dose needs the one before). Prefecture 45 is used
 * by this file only. Dose numbers run to the country's highest, which other test files may raise:
 * the higher ones are empty here, and the checks hold whatever their number.
 */
let t: TestApp;
let national: Session;
beforeAll(async () => {
  t = await TestApp.start({ statisticsCompactSeconds: 0 });
  national = await t.session(Role.NATIONAL, Channel.LGWAN);
});
afterAll(() => t.stop());

const DATES = ['2021-06-01', '2021-07-01', '2022-01-10', '2022-06-10'];

/** A municipality whose residents come in groups with the same number of doses, on DATES. */
async function area(groups: { doses: number; people: number }[]) {
  const code = await t.createMunicipality('45');
  const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
  const residents: { id: string; doses: number }[] = [];
  for (const g of groups) {
    for (let i = 0; i < g.people; i++) {
      const { id } = await registerResident(officer, { birthDate: '1960-01-01' });
      for (let n = 1; n <= g.doses; n++) await insertDose(t, code, id, { doseNumber: n, vaccinatedOn: DATES[n - 1] });
      residents.push({ id, doses: g.doses });
    }
  }
  return { code, officer, residents };
}

async function statistics(code: string, from?: string) {
  const result = await national.gql(STATISTICS, { scope: { kind: 'MUNICIPALITY', code }, from });
  expect(result.errors).toBeUndefined();
  const s = result.data.statistics;
  const doses: (number | null)[] = s.byDoseNumber.map((c: { value: number | null }) => c.value);
  const people: (number | null)[] = s.coverage.map((c: { people: { value: number | null } }) => c.people.value);
  return { s, doses, people, total: s.totalDoses.value as number };
}

/** Every published figure is the true one. */
async function expectTrue(code: string, doses: (number | null)[], people: (number | null)[], from?: string) {
  const truth = await bruteForce(t, { municipality: code }, from);
  doses.forEach((v, i) => v !== null && expect([i + 1, v]).toEqual([i + 1, truth.byDoseNumber[String(i + 1)]]));
  people.forEach((v, i) => v !== null && expect([i + 1, v]).toEqual([i + 1, truth.coverage[String(i + 1)]]));
}

const DECEASED = 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2023-03-01") { userErrors { code } } }';
const MOVED_OUT = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2023-03-01") { userErrors { code } } }';

/** Residents leave the registry; their doses stay in byDoseNumber, not in coverage. */
async function leave(officer: Session, ids: string[]) {
  for (const [i, id] of ids.entries()) {
    const result = await officer.gql(i % 2 ? MOVED_OUT : DECEASED, { id });
    expect(result.errors).toBeUndefined();
    expect(Object.values(result.data)[0]).toEqual({ userErrors: [] });
  }
}

/** Where both lists publish a dose number, what they differ by, and how that changes between two, is nought or not small. */
function differences(doses: (number | null)[], people: (number | null)[]): number[] {
  const shown = doses.flatMap((v, i) => (v !== null && people[i] !== null ? [i] : []));
  const left = (i: number) => doses[i]! - people[i]!;
  return [...shown.map(left), ...shown.flatMap((b) => shown.filter((a) => a < b).map((a) => left(a) - left(b)))].filter((d) => d !== 0 && Math.abs(d) < 10);
}

describe('dose numbers in one answer', () => {
  it('publishes no dose number above a hidden one, so that the order of the counts pins none', async () => {
    // 20 people with four doses, one with exactly two, 15 with one, 20 with none: coverage hides
    // doses 2 and 3 (one person has exactly two). With dose 4 published (20), the total (97) and
    // dose 1 (36), doses 2 and 3 would hold 41 between them, each at least 20: 21 and 20.
    const { code } = await area([{ doses: 4, people: 20 }, { doses: 2, people: 1 }, { doses: 1, people: 15 }, { doses: 0, people: 20 }]);
    const { doses, people, total } = await statistics(code);
    expect(total).toBe(97);
    expect(doses.slice(0, 4)).toEqual([36, null, null, null]);
    expect(people.slice(0, 4)).toEqual([36, null, null, null]);
    expect(breakdownLeaks(doses, total, 10)).toEqual([]);
    expect(orderedDoseLeaks(doses, total, 10, 0)).toEqual([]);
    await expectTrue(code, doses, people);

    // From 2021-06-15, after the first doses and before any second one: the range holds doses 2 to
    // 4 only, and those are still ordered (every dose 3 in it follows a dose 2 in it).
    const closed = await statistics(code, '2021-06-15');
    expect(closed.total).toBe(61);
    expect(closed.doses.slice(0, 4)).toEqual([null, null, null, null]);
    expect(breakdownLeaks(closed.doses, closed.total, 10)).toEqual([]);
    expect(orderedDoseLeaks(closed.doses, closed.total, 10, 1)).toEqual([]);
    await expectTrue(code, closed.doses, closed.people, '2021-06-15');
  });

  it('hides a dose number whose two figures differ by a few residents who left, or where that difference changes by a few', async () => {
    // 30 with two doses, 20 with one, 20 with none; one with two doses dies: 50 first doses beside
    // 49 residents with one would say that one vaccinated resident left.
    const one = await area([{ doses: 2, people: 30 }, { doses: 1, people: 20 }, { doses: 0, people: 20 }]);
    await leave(one.officer, [one.residents[0].id]);
    const a = await statistics(one.code);
    expect(a.total).toBe(80);
    expect([a.doses[0], a.people[0]]).toEqual([null, null]);
    expect(differences(a.doses, a.people)).toEqual([]);
    await expectTrue(one.code, a.doses, a.people);

    // 5 with four doses, 5 with three, 30 with two, 20 with one, 20 with none stay; 15 with two doses
    // and one with a single dose leave. Doses 1 and 2 (76 and 55, beside 60 and 40 residents) each
    // differ by many, but by one more for dose 1: one who left had exactly one dose.
    const two = await area([
      { doses: 4, people: 5 }, { doses: 3, people: 5 }, { doses: 2, people: 30 }, { doses: 1, people: 20 }, { doses: 0, people: 20 },
      { doses: 2, people: 15 }, { doses: 1, people: 1 },
    ]);
    await leave(two.officer, two.residents.slice(-16).map((r) => r.id));
    const b = await statistics(two.code);
    expect(b.total).toBe(5 * 4 + 5 * 3 + 30 * 2 + 20 + 15 * 2 + 1);
    expect([b.doses.slice(0, 2), b.people.slice(0, 2)]).toEqual([[76, null], [60, null]]);
    expect(differences(b.doses, b.people)).toEqual([]);
    expect(orderedDoseLeaks(b.doses, b.total, 10, 0)).toEqual([]);
    await expectTrue(two.code, b.doses, b.people);
  });

  it('publishes coverage as of the end of a closed range that holds no first or second dose', async () => {
    // 12 with three doses, 20 with two, 15 with one, 15 with none. From 2022-01-01 the range holds
    // the 12 third doses only: the breakdown hides every dose number (12 beside the total of 12
    // would leave the others at nought), while coverage counts the first and second doses from the
    // start, which the range does not count, and publishes them as the nested rule allows.
    const { code } = await area([{ doses: 3, people: 12 }, { doses: 2, people: 20 }, { doses: 1, people: 15 }, { doses: 0, people: 15 }]);
    const closed = await statistics(code, '2022-01-01');
    expect(closed.total).toBe(12);
    expect(closed.doses.slice(0, 3)).toEqual([null, null, null]);
    expect(closed.people.slice(0, 3)).toEqual([47, 32, null]);
    expect(closed.s.coverage.slice(0, 2).map((c: { ratio: number }) => c.ratio)).toEqual([47 / 62, 32 / 62]);
    expect(breakdownLeaks(closed.doses, closed.total, 10)).toEqual([]);
    expect(differences(closed.doses, closed.people)).toEqual([]);
    await expectTrue(code, closed.doses, closed.people, '2022-01-01');
  });
});
