import { importFile, registryCsv, registryRow } from '../helpers/registry-csv';
import { insertResidents, TestApp } from '../helpers/test-app';
import { countAnotherCity } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

/** How many rows of `table` the planner expects the municipality to have. */
async function estimated(table: 'resident' | 'ticket', code: string): Promise<number> {
  const [{ 'QUERY PLAN': [plan] }] = await t.db.query(`EXPLAIN (FORMAT JSON) SELECT * FROM ${table} WHERE municipality_code = $1`, [code]);
  return plan.Plan['Plan Rows'];
}

describe('resident registry import and the query planner', () => {
  it('leaves the planner knowing how many residents and tickets a large file brought, so that the next import is not planned as if there were none', async () => {
    const { code, officer } = await t.tenant();
    const rows = Array.from({ length: 1000 }, () => registryRow());
    const job = await importFile(t, officer, registryCsv(rows));
    expect([job.status, job.residentsInserted, job.ticketsInserted]).toEqual(['SUCCEEDED', 1000, 1000]);
    // Autovacuum would take a tenth of the table changed; the import's own ANALYZE is what tells.
    expect(await estimated('resident', code)).toBeGreaterThanOrEqual(500);
    expect(await estimated('ticket', code)).toBeGreaterThanOrEqual(500);
    const again = await importFile(t, officer, registryCsv(rows));
    expect([again.status, again.residentsInserted, again.residentsUpdated]).toEqual(['SUCCEEDED', 0, 0]);
  });

  it('brings tickets to a city the planner has not counted yet without reading the city\'s tickets once per row', async () => {
    // The planner's counts hold another city but not this one, whose residents came by SQL (or by the
    // API faster than autovacuum counts them): it reckons one resident and one ticket, and read by the
    // municipality alone, a row's ticket was every ticket of the city (minutes for 20,000 rows).
    await countAnotherCity(t);
    const { code, officer } = await t.tenant();
    const CITY = 20_000;
    await insertResidents(t.db, code, CITY);
    const rows = Array.from({ length: CITY }, (_r, i) => registryRow({ addressee: `B${i + 1}`, ticket: String(1_000_000_000 + i) }));
    const job = await importFile(t, officer, registryCsv(rows));
    expect([job.status, job.rowsAccepted, job.ticketsInserted, job.failureReason]).toEqual(['SUCCEEDED', CITY, CITY, null]);
    expect(await t.db.query('SELECT count(DISTINCT resident_id)::int AS n FROM ticket WHERE municipality_code = $1', [code])).toEqual([{ n: CITY }]);
  }, 90_000);
});
