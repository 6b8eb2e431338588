import { getNamedType, GraphQLObjectType, GraphQLScalarType, GraphQLEnumType, isObjectType } from 'graphql';
import { buildBareSchema } from '../../src/schema/build-schema';
import { Channel, Role } from '../../src/schema/enums';
import { todayInJapan } from '../../src/validation/dates';
import { breakdownLeaks, seriesLeaks } from '../helpers/disclosure';
import { bruteForce, days, insertDose, STATISTICS } from '../helpers/statistics';
import { codes, registerResident, Session, TestApp } from '../helpers/test-app';

/**
 * Who sees which statistics, that published figures never single out a person, and that no
 * statistics field leads to a row. Prefecture 47 is used by this file only; 46 by the figures test.
 */
let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start({ statisticsCompactSeconds: 0 });
});
afterAll(() => t.stop());

const SCOPE_ONLY = 'query($scope: StatisticsScopeInput!, $from: String, $to: String) { statistics(scope: $scope, from: $from, to: $to) { scope { kind code name } totalDoses { value suppressed } } }';
const nation: { kind: string; code?: string } = { kind: 'NATION' };
const prefecture = (code: string): { kind: string; code?: string } => ({ kind: 'PREFECTURE', code });
const municipality = (code: string): { kind: string; code?: string } => ({ kind: 'MUNICIPALITY', code });

describe('who sees which statistics', () => {
  let own: string;
  let neighbour: string;
  let elsewhere: string;
  let officer: Session;
  let pref47: Session;
  let national: Session;

  beforeAll(async () => {
    own = await t.createMunicipality('47');
    neighbour = await t.createMunicipality('47');
    elsewhere = await t.createMunicipality('46');
    officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: own });
    pref47 = await t.session(Role.PREFECTURE, Channel.LGWAN, { prefectureCode: '47' });
    national = await t.session(Role.NATIONAL, Channel.LGWAN);
  });

  const read = (session: Session, scope: { kind: string; code?: string }) => session.gql(SCOPE_ONLY, { scope });

  it('lets the national government read any scope', async () => {
    for (const scope of [nation, prefecture('47'), prefecture('46'), municipality(own), municipality(elsewhere)]) {
      const result = await read(national, scope);
      expect(result.errors).toBeUndefined();
      expect(result.data.statistics.scope).toMatchObject({ kind: scope.kind, code: scope.code ?? null });
    }
  });

  it('lets a prefecture read itself, its municipalities and the nation, and nothing of another prefecture', async () => {
    for (const scope of [nation, prefecture('47'), municipality(own), municipality(neighbour)]) {
      expect((await read(pref47, scope)).errors).toBeUndefined();
    }
    for (const scope of [prefecture('46'), municipality(elsewhere), municipality('131016')]) {
      const result = await read(pref47, scope);
      expect(codes(result)).toEqual(['FORBIDDEN']);
      expect(result.data).toBeNull();
    }
  });

  it('lets a municipality read its own figures only, on either channel', async () => {
    expect((await read(officer, municipality(own))).data.statistics.scope.code).toBe(own);
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: own });
    expect((await read(internet, municipality(own))).errors).toBeUndefined();
    for (const scope of [municipality(neighbour), prefecture('47'), nation]) {
      expect(codes(await read(officer, scope))).toEqual(['FORBIDDEN']);
    }
  });

  it('refuses every other role', async () => {
    const others = [
      await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: own }),
      await t.session(Role.INTEGRATOR, Channel.INTERNET),
      await t.session(Role.OPERATOR, Channel.LGWAN),
    ];
    for (const session of others) expect(codes(await read(session, municipality(own)))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(Channel.LGWAN, SCOPE_ONLY, { scope: nation }))).toEqual(['UNAUTHENTICATED']);
  });

  it('names the argument at fault for a bad code or date, with the reason and what to fix', async () => {
    const cases: [Record<string, unknown>, string[], string, string][] = [
      [{ scope: municipality('131017') }, ['scope', 'code'], 'INVALID_CHECK_DIGIT', 'check digit does not match (mistyped or misread code?)'],
      [{ scope: municipality('12345') }, ['scope', 'code'], 'INVALID_FORMAT', 'must be 6 digits'],
      // A valid check digit, but no municipality.
      [{ scope: municipality('131008') }, ['scope', 'code'], 'UNKNOWN_MUNICIPALITY', 'is not a municipality in the national list'],
      // A ward (横浜市鶴見区) is in the national list, but its designated city is the one municipality counted.
      [{ scope: municipality('141011') }, ['scope', 'code'], 'UNKNOWN_MUNICIPALITY', 'is a ward of the designated city 141003, which is one municipality: give the city\'s code'],
      [{ scope: { kind: 'MUNICIPALITY' } }, ['scope', 'code'], 'REQUIRED', 'required for kind MUNICIPALITY'],
      [{ scope: { kind: 'MUNICIPALITY', code: ' ' } }, ['scope', 'code'], 'REQUIRED', 'required for kind MUNICIPALITY'],
      [{ scope: prefecture('48') }, ['scope', 'code'], 'INVALID_FORMAT', 'must be a 2-digit prefecture code from 01 to 47'],
      [{ scope: { kind: 'PREFECTURE' } }, ['scope', 'code'], 'REQUIRED', 'required for kind PREFECTURE'],
      [{ scope: { kind: 'NATION', code: '13' } }, ['scope', 'code'], 'INVALID_FORMAT', 'must be omitted for kind NATION'],
      [{ scope: nation, from: '2021-02-30' }, ['from'], 'INVALID_DATE', 'must be a real date written YYYY-MM-DD'],
      [{ scope: nation, from: '2021-07-01', to: '2021-06-01' }, ['to'], 'INVALID_DATE', 'must not be before from'],
      [{ scope: nation, from: '2000-01-01', to: '2021-06-01' }, ['from'], 'INVALID_DATE', 'the range must be at most 3700 days'],
      // Without to the range ends today, whether or not the daily series is asked for (this query asks totalDoses only).
      [{ scope: nation, from: '2000-01-01' }, ['from'], 'INVALID_DATE', 'the range must be at most 3700 days'],
      [{ scope: nation, from: `${Number(todayInJapan().slice(0, 4)) + 1}-01-01` }, ['from'], 'INVALID_DATE', 'must not be in the future when to is omitted: the range then ends today'],
    ];
    for (const [variables, field, reason, message] of cases) {
      const result = await national.gql(SCOPE_ONLY, variables);
      expect(result.errors!.map((e) => [e.message, e.extensions])).toEqual([[`${field.join('.')}: ${message}`, expect.objectContaining({ code: 'BAD_USER_INPUT', field, reason })]]);
    }
    // A blank date is no date, as a blank code is no code: spaces left in a form field (full-width ones too).
    for (const blank of ['', ' ', '\u3000']) {
      const result = await national.gql('query($from: String, $to: String) { statistics(scope: { kind: NATION }, from: $from, to: $to) { from to } }', { from: blank, to: blank });
      expect([blank, result.errors, result.data?.statistics]).toEqual([blank, undefined, { from: null, to: null }]);
    }
  });
});

describe('small-cell suppression through the API', () => {
  it('hides small cells and never lets published cells and totals determine one', async () => {
    const code = await t.createMunicipality('47');
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    // 30 residents: most born 1960s-1980s, two in their nineties (a cell of two people).
    const births = [...Array.from({ length: 28 }, (_, i) => `19${60 + (i % 3) * 10}-0${1 + (i % 9)}-15`), '1925-01-01', '1926-01-01'];
    const ids: string[] = [];
    for (const [i, birthDate] of births.entries()) ids.push((await registerResident(officer, { birthDate, sex: i < 27 ? 'FEMALE' : 'MALE' })).id);
    for (const [i, id] of ids.entries()) {
      await insertDose(t, code, id, { doseNumber: 1, vaccinatedOn: `2021-06-0${1 + (i % 3)}`, manufacturer: i === 0 ? 'Novavax' : 'Pfizer' });
      if (i < 22) await insertDose(t, code, id, { doseNumber: 2, vaccinatedOn: `2021-06-2${i % 4}`, manufacturer: 'Pfizer' });
      if (i < 3) await insertDose(t, code, id, { doseNumber: 3, vaccinatedOn: '2022-01-05', manufacturer: 'Moderna' });
    }
    const truth = await bruteForce(t, { municipality: code });
    const result = await officer.gql(STATISTICS, { scope: municipality(code) });
    expect(result.errors).toBeUndefined();
    const s = result.data.statistics;
    expect(s.suppressionThreshold).toBe(10);
    expect(s.totalDoses).toEqual({ value: 55, suppressed: false });
    expect(s.registeredPopulation).toEqual({ value: 30, suppressed: false });

    // Small cells are hidden: the single Novavax dose, the three third doses, the 3 men, the two over 90.
    expect(s.byManufacturer.find((c: any) => c.label === 'Novavax')).toEqual({ label: 'Novavax', value: null, suppressed: true });
    expect(s.byDoseNumber.find((c: any) => c.label === '3')).toEqual({ label: '3', value: null, suppressed: true });
    expect(s.bySex.find((c: any) => c.label === 'MALE').suppressed).toBe(true);
    expect(s.byAgeBand.find((c: any) => c.label === '90+').suppressed).toBe(true);

    // ... and what is published is true, and no breakdown lets a hidden cell be recovered.
    const total = truth.totalDoses;
    for (const [name, cells, real] of [
      ['byDoseNumber', s.byDoseNumber, truth.byDoseNumber],
      ['byManufacturer', s.byManufacturer, truth.byManufacturer],
      ['byAgeBand', s.byAgeBand, truth.byAgeBand],
      ['bySex', s.bySex, truth.bySex],
    ] as const) {
      for (const c of cells as any[]) {
        if (!c.suppressed) expect([name, c.label, c.value]).toEqual([name, c.label, (real as Record<string, number>)[c.label]]);
        else expect(c.value).toBeNull();
      }
      expect([name, breakdownLeaks((cells as any[]).map((c) => c.value), total, 10)]).toEqual([name, []]);
    }
    // Coverage figures are nested: what any two published ones (or one and the population of 30) differ by is not small.
    const chain = [0, ...s.coverage.filter((c: any) => !c.people.suppressed).map((c: any) => c.people.value).reverse(), 30];
    for (let i = 1; i < chain.length; i++) expect(chain[i] - chain[i - 1]).toBeGreaterThanOrEqual(10);
    // Here each would be: 3 have a third dose, 8 exactly one and none is unvaccinated (a group of
    // nought says as much as a small one), so no coverage figure or ratio is published at all.
    expect(s.coverage.slice(0, 3).map((c: any) => c.doseNumber)).toEqual([1, 2, 3]);
    expect(s.coverage.filter((c: any) => !c.people.suppressed || c.people.value !== null || c.ratio !== null)).toEqual([]);
    expect(s.dosesByDay.countsSuppressed.some(Boolean)).toBe(true);
    expect(seriesLeaks(days(s.dosesByDay), total, 10)).toEqual([]);
  });

  it('never lets the dose-number breakdown give away what coverage hides', async () => {
    // 20 residents, no one moved away and no inquiry copies: over an open range byDoseNumber then
    // counts exactly what coverage counts. Either everyone has two doses (no one unvaccinated or
    // with one dose), or two of them have none.
    for (const unvaccinated of [0, 2]) {
      const code = await t.createMunicipality('47');
      const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
      for (let i = 0; i < 20; i++) {
        const { id } = await registerResident(officer);
        if (i < unvaccinated) continue;
        await insertDose(t, code, id, { doseNumber: 1, vaccinatedOn: '2021-06-01' });
        await insertDose(t, code, id, { doseNumber: 2, vaccinatedOn: '2021-06-22' });
        if (i >= 10) await insertDose(t, code, id, { doseNumber: 3, vaccinatedOn: '2022-01-05' });
      }
      const truth = await bruteForce(t, { municipality: code });
      expect(truth.byDoseNumber).toEqual(truth.coverage);
      const result = await officer.gql(STATISTICS, { scope: municipality(code) });
      expect(result.errors).toBeUndefined();
      const s = result.data.statistics;
      expect(s.registeredPopulation.value).toBe(20);

      // Both lists name the same dose numbers, 1 to 3 and any higher one another file gave.
      expect(s.coverage.slice(0, 3).map((c: any) => c.doseNumber)).toEqual([1, 2, 3]);
      expect(s.byDoseNumber.map((c: any) => c.label)).toEqual(s.coverage.map((c: any) => String(c.doseNumber)));
      // What a reader knows per dose number: whichever of the two figures is published (both true).
      const known = s.coverage.map((c: any, i: number) => {
        expect(s.byDoseNumber[i].label).toBe(String(c.doseNumber));
        for (const v of [c.people.value, s.byDoseNumber[i].value]) if (v !== null) expect(v).toBe(truth.coverage[String(c.doseNumber)]);
        return c.people.value ?? s.byDoseNumber[i].value;
      });
      // No difference between them, from nought or to the population, is small ...
      const chain = [0, ...known.filter((v: number | null) => v !== null).reverse(), 20];
      for (let i = 1; i < chain.length; i++) expect([unvaccinated, i, chain[i] - chain[i - 1] >= 10]).toEqual([unvaccinated, i, true]);
      // ... and the total doses do not single out a hidden dose number either.
      expect(breakdownLeaks(known, s.totalDoses.value, 10)).toEqual([]);
    }
  });

  it('lists the same categories whether or not the area had such a dose: a suppressed cell never says "at least one"', async () => {
    const labels = async (withRareDose: boolean) => {
      const code = await t.createMunicipality('47');
      const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
      const { id } = await registerResident(officer);
      await insertDose(t, code, id, { manufacturer: 'Pfizer' });
      if (withRareDose) await insertDose(t, code, id, { doseNumber: 2, vaccinatedOn: '2021-07-01', manufacturer: 'Takeda' });
      // A manufacturer outside the catalogue, as a record from another system holds it.
      if (withRareDose) await insertDose(t, code, id, { doseNumber: 3, vaccinatedOn: '2022-01-10', manufacturer: 'Sinovac' });
      const s = (await officer.gql(STATISTICS, { scope: municipality(code) })).data.statistics;
      return { doses: s.byDoseNumber.map((c: any) => c.label), makers: s.byManufacturer.map((c: any) => c.label), coverage: s.coverage.map((c: any) => c.doseNumber) };
    };
    const rare = await labels(true);
    expect(rare.makers).toContain('Takeda');
    expect(rare.makers).toContain('Sinovac');
    expect(rare.doses).toContain('2');
    expect(await labels(false)).toEqual(rare);
  });

  it('suppresses everything for a scope whose total is small', async () => {
    const code = await t.createMunicipality('47');
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    const { id } = await registerResident(officer);
    await insertDose(t, code, id);
    const s = (await officer.gql(STATISTICS, { scope: municipality(code) })).data.statistics;
    expect(s.totalDoses).toEqual({ value: null, suppressed: true });
    expect(s.registeredPopulation).toEqual({ value: null, suppressed: true });
    const values = [...s.byDoseNumber, ...s.byManufacturer, ...s.byAgeBand, ...s.bySex].map((c: any) => c.value);
    expect(values.every((v: unknown) => v === null)).toBe(true);
    expect(days(s.dosesByDay).every((d) => d.count.value === null && d.cumulative.value === null)).toBe(true);
    expect(s.coverage.every((c: any) => c.people.value === null && c.ratio === null)).toBe(true);
    expect(s.coverage).not.toHaveLength(0);
    // The open range is the same for every area, whatever its doses' dates.
    expect(s.dosesByDay.dates[0]).toBe('2021-02-17');
    expect(s.dosesByDay.dates[s.dosesByDay.dates.length - 1]).toBe(todayInJapan());
  });

  it('ends a series at the last day ISO dates can write', async () => {
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: await t.createMunicipality('47') });
    const range = await officer.gql(`query($scope: StatisticsScopeInput!) {
      statistics(scope: $scope, from: "9999-12-30", to: "9999-12-31") { dosesByDay { dates } } }`, { scope: municipality(officer.municipalityCode!) });
    expect(range.data.statistics.dosesByDay.dates).toEqual(['9999-12-30', '9999-12-31']);
    const open = await officer.gql(`query($scope: StatisticsScopeInput!) {
      statistics(scope: $scope, to: "9999-12-31") { dosesByDay { dates } } }`, { scope: municipality(officer.municipalityCode!) });
    expect(open.data.statistics.dosesByDay.dates.at(-1)).toBe('9999-12-31');
  });
});

describe('no path from statistics to a row', () => {
  it('exposes only labels and numbers: no ID, no object type outside the statistics types', () => {
    const schema = buildBareSchema();
    const allowedObjects = new Set(['Statistics', 'StatisticsScope', 'StatisticsCount', 'StatisticsCell', 'CoverageCell', 'DailySeries']);
    const allowedScalars = new Set(['Int', 'Float', 'String', 'Boolean']);
    const seen = new Set<string>();
    const walk = (type: GraphQLObjectType) => {
      if (seen.has(type.name)) return;
      seen.add(type.name);
      expect(allowedObjects.has(type.name)).toBe(true);
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type);
        expect([type.name, field.name, field.args.length]).toEqual([type.name, field.name, 0]);
        if (isObjectType(named)) walk(named);
        else if (named instanceof GraphQLScalarType) expect([field.name, allowedScalars.has(named.name)]).toEqual([field.name, true]);
        else expect(named).toBeInstanceOf(GraphQLEnumType);
      }
    };
    walk(schema.getType('Statistics') as GraphQLObjectType);
    expect([...seen].sort()).toEqual([...allowedObjects].sort());
  });

  it('gives national and prefectural tokens no row by any query', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const rowQueries = [
      '{ residents { nodes { id } } }',
      `{ resident(id: "${id}") { id } }`,
      '{ residentByMyNumber(myNumber: "123456789018") { id } }',
      '{ accounts { nodes { id } } }',
    ];
    for (const session of [await t.session(Role.NATIONAL, Channel.LGWAN), await t.session(Role.PREFECTURE, Channel.LGWAN, { prefectureCode: '13' })]) {
      for (const query of rowQueries) expect(codes(await session.gql(query))).toEqual(['FORBIDDEN']);
    }
  });
});
