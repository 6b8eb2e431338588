import { Channel, Role } from '../../src/schema/enums';
import { asFigures, bruteForce, correctDose, insertDose, STATISTICS } from '../helpers/statistics';
import { blockedBy, GraphQLResponse, registerResident, Session, TestApp } from '../helpers/test-app';

/**
 * The trigger-maintained figures equal a brute-force count over the source rows, through every
 * kind of change: inserts, corrections (status changes), deletions of records and residents,
 * residents moving out (and a move out cleared), and changes of birth date or sex. Suppression
 * is off here (threshold 0) so that every figure can be compared; it is tested in
 * statistics-access.test.ts.
 * Prefecture 46 is used by this file only, so its totals are exact.
 */
const PREFECTURE = '46';
let t: TestApp;
let national: Session;
beforeAll(async () => {
  t = await TestApp.start({ statisticsThreshold: 0, statisticsCompactSeconds: 0 });
  national = await t.session(Role.NATIONAL, Channel.LGWAN);
});
afterAll(() => t.stop());

async function published(scope: { kind: string; code?: string }, from?: string, to?: string) {
  const result = await national.gql(STATISTICS, { scope, from, to });
  expect(result.errors).toBeUndefined();
  return asFigures(result.data.statistics);
}

/**
 * The published figures of `scope` equal the brute-force count. Dose numbers are listed up to the
 * highest in the country, which other test files running at the same time may raise: a comparison
 * is made only when the count read before the figures and the one read after agree.
 */
async function expectSame(scope: { kind: string; code: string }, where: Parameters<typeof bruteForce>[1], from?: string, to?: string) {
  for (let attempt = 1; ; attempt++) {
    const before = await bruteForce(t, where, from, to);
    const figures = await published(scope, from, to);
    const after = await bruteForce(t, where, from, to);
    if (JSON.stringify(before) === JSON.stringify(after) || attempt === 5) {
      expect(figures).toEqual(after);
      return;
    }
  }
}

async function expectExact(municipalities: string[], ranges: [string?, string?][] = [[], ['2021-06-01', '2021-07-31'], [undefined, '2021-06-15']]) {
  for (const [from, to] of ranges) {
    for (const code of municipalities) await expectSame({ kind: 'MUNICIPALITY', code }, { municipality: code }, from, to);
    await expectSame({ kind: 'PREFECTURE', code: PREFECTURE }, { prefecture: PREFECTURE }, from, to);
  }
}

const DELETE = 'mutation($id: ID!) { deleteResident(id: $id) { deletedResidentId userErrors { code } } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateResidentInput!) { updateResident(id: $id, input: $input) { userErrors { code } } }';
const MOVE_OUT = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2022-01-10") { userErrors { code } } }';
const DECEASED = 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2022-02-10") { userErrors { code } } }';
const CLEAR = 'mutation($id: ID!) { clearResidentStatus(id: $id, reason: "転出取消") { userErrors { code } } }';

describe('statistics figures', () => {
  it('equal a brute-force count after inserts, corrections, deletions and resident changes', async () => {
    const a = await t.createMunicipality(PREFECTURE);
    const b = await t.createMunicipality(PREFECTURE);
    const officerA = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: a });
    const officerB = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: b });
    const births = ['1940-03-01', '1956-06-15', '1961-01-01', '1975-12-31', '1990-07-07', '2008-02-29', '1930-05-05', '1999-09-09'];
    const residentsA: string[] = [];
    for (let i = 0; i < births.length; i++) {
      residentsA.push((await registerResident(officerA, { birthDate: births[i], sex: i % 3 === 0 ? 'MALE' : 'FEMALE' })).id);
    }
    const residentsB = [(await registerResident(officerB, { birthDate: '1950-01-01', sex: 'MALE' })).id, (await registerResident(officerB)).id];

    const records = new Map<string, string[]>();
    const makers = ['Pfizer', 'Moderna', 'AstraZeneca'];
    for (const [i, id] of residentsA.entries()) {
      const doses = i % 4; // 0 to 3 doses, without gaps
      const ids: string[] = [];
      for (let n = 1; n <= doses; n++) {
        const day = String(1 + ((i * 7 + n * 11) % 28)).padStart(2, '0');
        ids.push(await insertDose(t, a, id, { doseNumber: n, vaccinatedOn: `2021-0${5 + n}-${day}`, manufacturer: makers[(i + n) % 3] }));
      }
      records.set(id, ids);
    }
    // An inquiry copy (counted for coverage, not as a dose given here) and discarded records.
    await insertDose(t, b, residentsB[0], { doseNumber: 1, vaccinatedOn: '2021-06-20', source: 'INQUIRY' });
    await insertDose(t, b, residentsB[0], { doseNumber: 2, vaccinatedOn: '2021-07-20' });
    await insertDose(t, b, residentsB[1], { doseNumber: 1, vaccinatedOn: '2021-06-21', status: 'ENTERED_IN_ERROR' });
    await expectExact([a, b]);

    // Corrections: a superseded record replaced by a corrected one; another marked entered-in-error.
    const [first] = records.get(residentsA[1])!;
    await correctDose(t, a, first, { vaccinatedOn: '2021-06-30', manufacturer: 'Moderna' });
    const [, second] = records.get(residentsA[2])!;
    await t.db.query(
      `UPDATE vaccination_record SET status = 'ENTERED_IN_ERROR', status_reason = 'wrong person', status_changed_at = now()
       WHERE municipality_code = $1 AND id = $2`,
      [a, second],
    );
    await expectExact([a, b]);

    // Folding the deltas changes nothing.
    await t.app.services.statistics.compact();
    await expectExact([a, b]);

    // A record deleted outright, a resident deleted with all its records (by SQL: the API keeps a
    // resident who has records), another moved out, another deceased, and a birth date and sex
    // corrected (age bands and sex of their doses move).
    await t.db.query('DELETE FROM vaccination_record WHERE municipality_code = $1 AND id = $2', [a, records.get(residentsA[3])![2]]);
    expect((await officerA.gql(DELETE, { id: residentsA[5] })).data.deleteResident.userErrors).toEqual([{ code: 'INVALID_STATE' }]);
    await t.db.query('DELETE FROM resident WHERE municipality_code = $1 AND id = $2', [a, residentsA[5]]);
    expect((await officerA.gql(MOVE_OUT, { id: residentsA[6] })).data.markResidentMovedOut.userErrors).toEqual([]);
    expect((await officerB.gql(DECEASED, { id: residentsB[0] })).data.markResidentDeceased.userErrors).toEqual([]);
    expect((await officerA.gql(UPDATE, { id: residentsA[7], input: { birthDate: '1950-01-01', sex: 'MALE' } })).data.updateResident.userErrors).toEqual([]);
    await expectExact([a, b]);

    // A move out cleared (転出取消): the resident is registered again, and their doses count for coverage again.
    expect((await officerA.gql(CLEAR, { id: residentsA[6] })).data.clearResidentStatus.userErrors).toEqual([]);
    await expectExact([a, b]);

    // Multi-row statements (as a CSV import makes them) are counted row by row.
    await t.db.query(
      `UPDATE vaccination_record SET manufacturer = 'Takeda' WHERE municipality_code = $1 AND dose_number = 1 AND status = 'COMPLETED'`,
      [a],
    );
    await t.db.query(`DELETE FROM vaccination_record WHERE municipality_code = $1 AND dose_number = 2`, [b]);
    await t.app.services.statistics.compact();
    await expectExact([a, b]);

    // One update of many residents, as an import makes it: every name changed (nothing counted
    // moves), some birth dates (their doses' age bands move), and a resident renumbered into the
    // other municipality (its key changes: counted out of one, into the other).
    const renumbered = (await registerResident(officerB, { birthDate: '1985-03-03', sex: 'MALE' })).id;
    await t.db.query('DELETE FROM ticket WHERE municipality_code = $1 AND resident_id = $2', [b, renumbered]);
    await t.db.query(
      `UPDATE resident SET given_name = given_name || '子',
         birth_date = CASE WHEN birth_date < '1960-01-01' THEN (birth_date + interval '20 years')::date ELSE birth_date END,
         municipality_code = CASE WHEN id = $3 THEN $1 ELSE municipality_code END
       WHERE municipality_code IN ($1, $2)`,
      [a, b, renumbered],
    );
    await expectExact([a, b]);
  });

  it('rolls every change up to the prefecture and the nation in the same statement', async () => {
    const code = await t.createMunicipality(PREFECTURE);
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    const { id } = await registerResident(officer);
    await insertDose(t, code, id, { doseNumber: 1, vaccinatedOn: '2021-08-01' });
    // One snapshot: the nation equals the sum of the municipalities, cell by cell, whatever
    // other tests are writing at the same moment.
    const mismatches = await t.db.query(`
      WITH cells AS (
        SELECT area, dimension, vaccinated_on, category, doses FROM stats_dose
        UNION ALL SELECT area, dimension, vaccinated_on, category, doses FROM stats_dose_delta),
      nation AS (SELECT dimension, vaccinated_on, category, sum(doses) AS doses FROM cells WHERE area = '00' GROUP BY 1, 2, 3),
      municipal AS (SELECT dimension, vaccinated_on, category, sum(doses) AS doses FROM cells WHERE length(area) = 6 GROUP BY 1, 2, 3),
      prefectural AS (SELECT dimension, vaccinated_on, category, sum(doses) AS doses FROM cells WHERE length(area) = 2 AND area <> '00' GROUP BY 1, 2, 3)
      SELECT * FROM nation n FULL JOIN municipal m USING (dimension, vaccinated_on, category)
        FULL JOIN prefectural p USING (dimension, vaccinated_on, category)
      WHERE n.doses IS DISTINCT FROM m.doses AND NOT (coalesce(n.doses, 0) = 0 AND coalesce(m.doses, 0) = 0)
         OR n.doses IS DISTINCT FROM p.doses AND NOT (coalesce(n.doses, 0) = 0 AND coalesce(p.doses, 0) = 0)`);
    expect(mismatches).toEqual([]);
  });

  it('takes every figure of one answer from one snapshot, whatever commits while it is being read', async () => {
    const code = await t.createMunicipality(PREFECTURE);
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    const vaccinatedResident = async () => insertDose(t, code, (await registerResident(officer)).id, { vaccinatedOn: '2021-06-01' });
    for (let i = 0; i < 3; i++) await vaccinatedResident();
    // The doses come before the population, so an answer read figure by figure reads the doses first.
    const query = `query($scope: StatisticsScopeInput!) { statistics(scope: $scope) {
      totalDoses { value } byManufacturer { value } dosesByDay { counts } registeredPopulation { value } coverage { people { value } } } }`;

    // Holding the population table makes the answer wait there; meanwhile another vaccinated
    // resident commits. Every resident has exactly one dose, in any snapshot.
    const holder = t.db.createQueryRunner();
    await holder.connect();
    let pending: Promise<GraphQLResponse>;
    try {
      await holder.startTransaction();
      await holder.query('LOCK TABLE stats_population IN ACCESS EXCLUSIVE MODE');
      pending = national.gql(query, { scope: { kind: 'MUNICIPALITY', code } });
      await blockedBy(t.db, holder);
      await vaccinatedResident();
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    const result = await pending!;
    expect(result.errors).toBeUndefined();
    const s = result.data.statistics;
    const population = s.registeredPopulation.value;
    expect([3, 4]).toContain(population);
    expect(s.totalDoses.value).toBe(population);
    expect(s.byManufacturer.reduce((sum: number, c: { value: number }) => sum + c.value, 0)).toBe(population);
    expect(s.dosesByDay.counts.reduce((sum: number, n: number) => sum + n, 0)).toBe(population);
    expect(s.coverage[0].people.value).toBe(population);
  });

  it('rebuilds the summaries while a compaction runs: one waits for the other, neither fails', async () => {
    const code = await t.createMunicipality(PREFECTURE);
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    await insertDose(t, code, (await registerResident(officer)).id, { vaccinatedOn: '2021-08-02' }); // pending deltas
    // The three connections of t.db's pool; the holder also watches the other two.
    const [holder, rebuild, compactor] = [t.db.createQueryRunner(), t.db.createQueryRunner(), t.db.createQueryRunner()];
    const waitsForLock = async (runner: typeof holder) => {
      const [{ pid }] = await runner.query('SELECT pg_backend_pid() AS pid');
      return async () => {
        for (let waited = 0; waited < 10_000; waited += 20) {
          const [row] = await holder.query('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [pid]);
          if (row?.wait_event_type === 'Lock') return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        throw new Error(`backend ${pid} never waited for a lock`);
      };
    };
    // Held up while it empties the delta tables, the rebuild lets a compaction in; held up between
    // the tables it takes, so does the compaction.
    const holds = ['SELECT 1 FROM stats_population_delta WHERE area = $1 FOR UPDATE', 'LOCK TABLE stats_dose IN SHARE MODE'];
    try {
      for (const runner of [holder, rebuild, compactor]) await runner.connect();
      const [rebuildWaits, compactionWaits] = [await waitsForLock(rebuild), await waitsForLock(compactor)];
      for (const hold of holds) {
        await holder.startTransaction();
        await holder.query(hold, hold.includes('$1') ? [code] : []);
        const rebuilt = rebuild.query('SELECT stats_rebuild()').then(() => 'rebuilt', (e: Error) => e.message);
        await rebuildWaits();
        const compacted = compactor.query('SELECT stats_compact()').then(() => 'compacted', (e: Error) => e.message);
        await compactionWaits();
        await holder.rollbackTransaction();
        expect([hold, await rebuilt, await compacted]).toEqual([hold, 'rebuilt', 'compacted']);
      }
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      for (const runner of [holder, rebuild, compactor]) await runner.release();
    }
    await expectExact([code]);
  });

  it('reads the figures of one answer in one statement, whichever fields it asks for', async () => {
    const cost = async (fields: string, fragments = '') => {
      const before = t.queries.count;
      const result = await national.gql(`query($scope: StatisticsScopeInput!) { statistics(scope: $scope) { ${fields} } } ${fragments}`, { scope: { kind: 'PREFECTURE', code: PREFECTURE } });
      expect(result.errors).toBeUndefined();
      return t.queries.count - before;
    };
    const alone = await cost('totalDoses { value }');
    expect(await cost('scope { name }')).toBe(alone - 1);
    // Fields asked for through fragments count as well.
    expect(await cost(`totalDoses { value } coverage { ratio } registeredPopulation { value } byDoseNumber { value }
      ... on Statistics { dosesByDay { counts } byManufacturer { value } } ...more`, 'fragment more on Statistics { byAgeBand { value } bySex { value } }')).toBe(alone);
  });
});
