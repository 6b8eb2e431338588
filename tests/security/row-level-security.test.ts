import { contextFor, finishRequest } from '../../src/context';
import { createDataSource } from '../../src/db/data-source';
import { setTenants } from '../../src/db/tenant-session';
import { verifyAuditChain } from '../../src/services/audit.service';
import { ticketWithResident } from '../../src/services/dose-store';
import { Channel, Role } from '../../src/schema/enums';
import { registerResident, TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

/** A request context for an officer of `code`, as the server builds it. */
function officerContext(code: string) {
  const actor = { accountId: '00000000-0000-4000-8000-000000000001', role: Role.MUNICIPALITY, municipalityCode: code, prefectureCode: null, channel: Channel.LGWAN };
  return contextFor(t.app.services, actor, { channel: Channel.LGWAN, sourceAddress: 'test' });
}

describe('row-level security', () => {
  it('the application works as the non-owner role', async () => {
    const [{ current_user, bypass }] = await t.app.services.db.query(
      'SELECT current_user, (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user) AS bypass',
    );
    expect({ current_user, bypass }).toEqual({ current_user: 'vrs_app', bypass: false });
  });

  it('works as the non-owner role, writing ISO dates and seeing no municipality until a request names one, whatever settings the database URL or PGOPTIONS carries', async () => {
    const settings = `SELECT current_user AS user, current_setting('datestyle') AS datestyle, current_setting('application_name') AS name, current_setting('lock_timeout') AS wait`;
    const url = new URL(process.env.DATABASE_URL!);
    url.searchParams.set('options', `-c application_name=from-url -c datestyle=SQL,DMY -c role=${url.username}`);
    const fromUrl = await TestApp.start({ databaseUrl: url.toString() });
    try {
      expect((await fromUrl.app.services.db.query(settings))[0]).toMatchObject({ user: 'vrs_app', datestyle: 'ISO, YMD', name: 'from-url' });
      const home = await fromUrl.tenant();
      const { id } = await registerResident(home.officer, { birthDate: '1980-04-01' });
      expect((await home.officer.gql('query($id: ID!) { resident(id: $id) { birthDate } }', { id })).data.resident).toEqual({ birthDate: '1980-04-01' });
    } finally {
      await fromUrl.stop();
    }
    // A shell that still holds the owner's settings for a backup (README, Backup and restore).
    process.env.PGOPTIONS = `-c lock_timeout=7s -c role=${url.username} -c vrs.tenants=*`;
    const fromEnvironment = createDataSource(process.env.DATABASE_URL!, { asApp: true, poolSize: 1 });
    try {
      await fromEnvironment.initialize();
      expect((await fromEnvironment.query(settings))[0]).toMatchObject({ user: 'vrs_app', datestyle: 'ISO, YMD', wait: '7s' });
      expect(await fromEnvironment.query('SELECT count(*)::int AS seen FROM resident')).toEqual([{ seen: 0 }]);
    } finally {
      delete process.env.PGOPTIONS;
      await fromEnvironment.destroy();
    }
  });

  it('a deliberately unscoped query inside a request for A returns no row of B', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    // Both tenants hold a resident, a ticket and a vaccination record.
    for (const x of [a, b]) {
      const { ticketNumber } = await residentWithTicket(x.officer);
      const registered = await (await tablet(t, x.code)).gql(REGISTER_DOSE, { input: doseInput(x.code, ticketNumber) });
      expect(registered.data.registerDose.receipt.status).toBe('RECORDED');
    }
    const ctx = officerContext(a.code);
    try {
      const db = await ctx.session.manager();
      for (const table of ['resident', 'ticket', 'vaccination_record']) {
        const rows = await db.query(`SELECT DISTINCT municipality_code FROM ${table} WHERE municipality_code IN ($1, $2)`, [a.code, b.code]);
        expect([table, rows]).toEqual([table, [{ municipality_code: a.code }]]);
      }
    } finally {
      await finishRequest(ctx);
    }
  });

  it('a site\'s request sees no personal data, not even its own municipality\'s, until a ticket look-up widens it', async () => {
    const a = await t.tenant();
    await residentWithTicket(a.officer);
    const actor = { accountId: '00000000-0000-4000-8000-000000000002', role: Role.VACCINATION_SITE, municipalityCode: a.code, prefectureCode: null, channel: Channel.INTERNET };
    const ctx = contextFor(t.app.services, actor, { channel: Channel.INTERNET, sourceAddress: 'test' });
    try {
      const db = await ctx.session.manager();
      for (const table of ['resident', 'ticket']) {
        expect([table, await db.query(`SELECT 1 FROM ${table} WHERE municipality_code = $1`, [a.code])]).toEqual([table, []]);
      }
    } finally {
      await finishRequest(ctx);
    }
  });

  it('with the database wall opened on purpose, the policy alone still keeps B out of A\'s reads', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const own = await residentWithTicket(a.officer);
    const theirs = await residentWithTicket(b.officer);
    await (await tablet(t, b.code)).gql(REGISTER_DOSE, { input: doseInput(b.code, theirs.ticketNumber) });
    const [record] = await t.db.query('SELECT id FROM vaccination_record WHERE municipality_code = $1', [b.code]);
    const ctx = officerContext(a.code);
    try {
      // Read inside the widening, checked after it: a widening that never ran its work is caught too.
      const seen = await ctx.session.widen([b.code], async (tx) => ({
        // The wall is open: plain SQL sees B's resident.
        plainSql: (await tx.query('SELECT id FROM resident WHERE id = $1', [theirs.residentId])).map((r: { id: string }) => r.id),
        resident: await ctx.services.residents.get(ctx, theirs.residentId),
        residents: (await ctx.services.residents.list(ctx)).nodes.map((r) => r.id),
        ticket: await ctx.services.tickets.byNumber(ctx, theirs.ticketNumber),
        tickets: (await ctx.services.tickets.list(ctx)).nodes.map((x) => x.id),
        record: await ctx.services.records.get(ctx, record.id),
      }));
      expect(seen).toEqual({
        plainSql: [theirs.residentId], resident: null, residents: [own.residentId], ticket: null, tickets: [own.ticketId], record: null,
      });
    } finally {
      await finishRequest(ctx);
    }
  });

  it('a connection with no tenant setting sees no personal data at all', async () => {
    const { officer } = await t.tenant();
    await registerResident(officer);
    const [{ count }] = await t.app.services.db.query('SELECT count(*)::int AS count FROM resident');
    expect(count).toBe(0);
    const [{ owner }] = await t.db.query('SELECT count(*)::int AS owner FROM resident');
    expect(owner).toBeGreaterThan(0);
  });

  it('matches the tenant list entry by entry: a longer or shorter code opens nothing', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    const seen = (tenants: string) => t.app.services.db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('vrs.tenants', $1, true)`, [tenants]);
      const [{ count }] = await tx.query('SELECT count(*)::int AS count FROM resident WHERE municipality_code = $1', [code]);
      return count;
    });
    expect(await seen(`${code}9`)).toBe(0);
    expect(await seen(code.slice(0, 5))).toBe(0);
    expect(await seen(`${code} `)).toBe(0);
    expect(await seen('')).toBe(0);
    expect(await seen(`131016,${code}`)).toBe(1);
    expect(await seen('*')).toBe(1);
  });

  it('refuses to write a row into another municipality, even by hand-written SQL', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id } = await registerResident(b.officer);
    const ctx = officerContext(a.code);
    try {
      const db = await ctx.session.manager();
      await expect(db.transaction((tx) => tx.query(`UPDATE resident SET family_name = 'X' WHERE id = $1`, [id]))).resolves.toEqual([[], 0]);
      await expect(
        db.transaction((tx) =>
          tx.query(
            `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name, family_name_kana, given_name_kana, birth_date, sex)
             VALUES ($1, gen_random_uuid(), 'X1', '\\x00', decode(repeat('00', 32), 'hex'), 1, 'a', 'b', 'ア', 'イ', '2000-01-01', 'MALE')`,
            [b.code],
          ),
        ),
      ).rejects.toThrow(/row-level security/);
    } finally {
      await finishRequest(ctx);
    }
    const [row] = await t.db.query('SELECT family_name FROM resident WHERE id = $1', [id]);
    expect(row.family_name).toBe('山田');
  });

  it('widening is explicit, temporary and limited to the named municipality', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const c = await t.tenant();
    for (const x of [a, b, c]) await registerResident(x.officer);
    const ctx = officerContext(a.code);
    try {
      const seen = await ctx.session.widen([b.code], (tx) => tx.query('SELECT DISTINCT municipality_code AS code FROM resident ORDER BY 1'));
      expect(seen.map((r: { code: string }) => r.code).sort()).toEqual([a.code, b.code].sort());
      const after = await (await ctx.session.manager()).query('SELECT DISTINCT municipality_code AS code FROM resident');
      expect(after).toEqual([{ code: a.code }]);
    } finally {
      await finishRequest(ctx);
    }
  });

  it('widenings that overlap, as concurrent root fields do, still narrow back to the own municipality', async () => {
    const [a, b, c] = [await t.tenant(), await t.tenant(), await t.tenant()];
    for (const x of [a, b, c]) await registerResident(x.officer);
    const ctx = officerContext(a.code);
    const codesSeen = async (tx: { query(sql: string): Promise<{ code: string }[]> }) => (await tx.query('SELECT DISTINCT municipality_code AS code FROM resident')).map((r) => r.code).sort();
    try {
      let releaseC: () => void = () => undefined;
      const cHeld = new Promise<void>((resolve) => (releaseC = resolve));
      let cStarted: () => void = () => undefined;
      const cRunning = new Promise<void>((resolve) => (cStarted = resolve));
      // B's widening begins first and ends first; C's begins inside it and ends after it.
      const wideB = ctx.session.widen([b.code], async (tx) => {
        await cRunning;
        return codesSeen(tx);
      });
      const wideC = ctx.session.widen([c.code], async (tx) => {
        cStarted();
        await cHeld;
        return codesSeen(tx);
      });
      expect(await wideB).toEqual([a.code, b.code, c.code].sort());
      releaseC();
      expect(await wideC).toEqual([a.code, c.code].sort());
      expect(await codesSeen(await ctx.session.manager())).toEqual([a.code]);
    } finally {
      await finishRequest(ctx);
    }
  });

  it('a dose\'s statements, prepared once a connection, keep their plan and still see only each transaction\'s tenants', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { ticketNumber } = await residentWithTicket(a.officer);
    const runner = t.app.services.db.createQueryRunner();
    try {
      const lookUp = async (tenants: string[]) => {
        await runner.startTransaction();
        try {
          await setTenants(runner.manager, tenants);
          return await ticketWithResident(runner.manager, a.code, ticketNumber, true);
        } finally {
          await runner.rollbackTransaction();
        }
      };
      // PostgreSQL plans a prepared statement for its values five times, then keeps one plan for any.
      for (let i = 0; i < 7; i++) expect((await lookUp([a.code]))?.ticketId).toEqual(expect.any(String));
      expect(await lookUp([b.code])).toBeNull();
      expect(await lookUp([])).toBeNull();
      const kept = await runner.query(`SELECT generic_plans FROM pg_prepared_statements WHERE statement LIKE '%FOR UPDATE OF r'`);
      expect(kept).toEqual([{ generic_plans: expect.any(String) }]);
      expect(Number(kept[0].generic_plans)).toBeGreaterThanOrEqual(3);
    } finally {
      await runner.release();
    }
  });

  it('a temporary table the application role makes cannot stand in for the chain head the operation log is linked to', async () => {
    const { code } = await t.tenant();
    const ctx = officerContext(code);
    try {
      const db = await ctx.session.manager();
      await db.query(`CREATE TEMP TABLE audit_chain (chain text PRIMARY KEY, last_seq bigint NOT NULL DEFAULT 0, last_hash bytea NOT NULL DEFAULT '') ON COMMIT DROP`);
      await db.query(`INSERT INTO audit_chain VALUES ($1, 41, '\\xdeadbeef')`, [code]);
      await db.query(`INSERT INTO audit_event (request_id, channel, municipality_code, operation, target_ids, outcome)
                      VALUES ('forged', 'LGWAN', $1, 'test.forged', '{}', 'SUCCESS')`, [code]);
    } finally {
      await finishRequest(ctx);
    }
    expect(await verifyAuditChain(t.db.manager, code)).toMatchObject({ broken: null });
  });

  it('a temporary table the application role makes cannot vouch for the resident of a ticket', async () => {
    const { code } = await t.tenant();
    const ghost = '00000000-0000-4000-8000-000000000000';
    const ctx = officerContext(code);
    try {
      const db = await ctx.session.manager();
      await expect(db.transaction(async (tx) => {
        await tx.query(`CREATE TEMP TABLE resident (municipality_code char(6) NOT NULL, id uuid NOT NULL) ON COMMIT DROP`);
        await tx.query('INSERT INTO resident VALUES ($1, $2)', [code, ghost]);
        await tx.query(
          `INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on)
           VALUES ($1, gen_random_uuid(), $2, '0000000001', '1', current_date)`,
          [code, ghost],
        );
      })).rejects.toMatchObject({ code: '23503', constraint: 'ticket_resident_fk' });
    } finally {
      await finishRequest(ctx);
    }
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM ticket WHERE municipality_code = $1', [code]);
    expect(count).toBe(0);
  });

  it('every function that runs with its owner\'s rights searches the session\'s temporary tables last', async () => {
    const careless = await t.db.query(
      `SELECT p.proname AS name, p.proconfig AS config FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'public' AND p.prosecdef
         AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c ~ '^search_path=.*\\mpg_temp"?$')
       ORDER BY 1`,
    );
    expect(careless).toEqual([]);
  });

  it('the application role cannot alter or remove the operation log', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    await expect(t.app.services.db.query(`UPDATE audit_event SET outcome = 'FAILURE' WHERE municipality_code = $1`, [code])).rejects.toThrow(/permission denied/);
    await expect(t.app.services.db.query(`DELETE FROM audit_event WHERE municipality_code = $1`, [code])).rejects.toThrow(/permission denied/);
    await expect(t.app.services.db.query(`SELECT archive_audit_events(now(), $1)`, [code])).rejects.toThrow(/permission denied/);
  });
});
