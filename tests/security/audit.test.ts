import { archiveAuditEvents, verifyAuditChain } from '../../src/services/audit.service';
import { Channel, Role } from '../../src/schema/enums';
import { codes, registerResident, TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const SEARCH = `query($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) { nodes { id operation municipalityCode targetIds outcome actorId seq } endCursor }
}`;

describe('operation log', () => {
  it('chains every event of a municipality and verifies intact', async () => {
    const { code, officer } = await t.tenant();
    const before = await verifyAuditChain(t.db.manager, code);
    for (let i = 0; i < 3; i++) await registerResident(officer);
    expect(await verifyAuditChain(t.db.manager, code)).toEqual({ checked: before.checked + 3, broken: null });
  });

  it('keeps the chain consistent under concurrent writers', async () => {
    const { code, officer } = await t.tenant();
    const before = await verifyAuditChain(t.db.manager, code);
    await Promise.all(Array.from({ length: 12 }, () => registerResident(officer)));
    expect(await verifyAuditChain(t.db.manager, code)).toEqual({ checked: before.checked + 12, broken: null });
  });

  it('links events at commit: a writer does not wait for another still in its transaction, and commit order is chain order', async () => {
    const { code } = await t.tenant();
    const insert = `INSERT INTO audit_event (request_id, channel, municipality_code, operation, target_ids, outcome)
                    VALUES ($1, 'CLI', $2, 'test.link', '{}', 'SUCCESS')`;
    const slow = t.db.createQueryRunner();
    try {
      await slow.startTransaction();
      await slow.query(insert, ['slow', code]);
      // Linking at insert held the chain head until the slow writer committed: this would hang.
      const quick = t.db.query(insert, ['quick', code]).then(() => 'committed');
      const waited = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000));
      expect(await Promise.race([quick, waited])).toBe('committed');
      const [unlinked] = await slow.query(`SELECT seq, hash FROM audit_event WHERE request_id = 'slow' AND municipality_code = $1`, [code]);
      expect(unlinked).toEqual({ seq: null, hash: null });
      await slow.commitTransaction();
    } finally {
      await slow.release();
    }
    const events = await t.db.query(`SELECT request_id, seq FROM audit_event WHERE municipality_code = $1 AND operation = 'test.link' ORDER BY seq`, [code]);
    expect(events.map((e: { request_id: string }) => e.request_id)).toEqual(['quick', 'slow']);
    expect(await verifyAuditChain(t.db.manager, code)).toMatchObject({ broken: null });
  });

  it('refuses UPDATE, DELETE and TRUNCATE, even from the database owner', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    for (const sql of [
      `UPDATE audit_event SET outcome = 'FAILURE' WHERE municipality_code = '${code}'`,
      `DELETE FROM audit_event WHERE municipality_code = '${code}'`,
      'TRUNCATE audit_event',
      'TRUNCATE audit_event_archive',
    ]) {
      await expect(t.db.query(sql)).rejects.toThrow(/append-only/);
    }
    expect((await verifyAuditChain(t.db.manager, code)).broken).toBeNull();
  });

  it('names the first altered event when someone bypasses the triggers', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 4; i++) await registerResident(officer);
    const events: { id: string; seq: string }[] = await t.db.query('SELECT id, seq FROM audit_event WHERE chain = $1 ORDER BY seq', [code]);
    const runner = t.db.createQueryRunner();
    try {
      // What an attacker with superuser rights could do: switch triggers off for the session and edit a row.
      await runner.query('SET session_replication_role = replica');
      await runner.query(`UPDATE audit_event SET outcome = 'FAILURE' WHERE id = $1`, [events[2].id]);
    } finally {
      await runner.query('SET session_replication_role = origin');
      await runner.release();
    }
    const result = await verifyAuditChain(t.db.manager, code);
    expect(result.broken).toEqual({ id: events[2].id, chain: code, seq: '3', reason: 'content does not match its hash' });
  });

  it('detects a deleted event by the gap it leaves', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 3; i++) await registerResident(officer);
    const [second] = await t.db.query('SELECT id FROM audit_event WHERE chain = $1 AND seq = 2', [code]);
    const runner = t.db.createQueryRunner();
    try {
      await runner.query('SET session_replication_role = replica');
      await runner.query('DELETE FROM audit_event WHERE id = $1', [second.id]);
    } finally {
      await runner.query('SET session_replication_role = origin');
      await runner.release();
    }
    const result = await verifyAuditChain(t.db.manager, code);
    expect(result.broken).toMatchObject({ chain: code, seq: '3', reason: 'an event before it is missing' });
  });

  it('detects events cut from the end of a chain, and a chain cut away entirely', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 4; i++) await registerResident(officer);
    const [second] = await t.db.query('SELECT id FROM audit_event WHERE chain = $1 AND seq = 2', [code]);
    const [{ last }] = await t.db.query('SELECT max(seq)::text AS last FROM audit_event WHERE chain = $1', [code]);
    const cut = async (sql: string) => {
      const runner = t.db.createQueryRunner();
      try {
        await runner.query('SET session_replication_role = replica');
        await runner.query(sql, [code]);
      } finally {
        await runner.query('SET session_replication_role = origin');
        await runner.release();
      }
    };
    // What is left still links up from the first event: only the chain's head knows there were more.
    await cut('DELETE FROM audit_event WHERE chain = $1 AND seq > 2');
    expect((await verifyAuditChain(t.db.manager, code)).broken).toEqual({
      id: second.id, chain: code, seq: '2', reason: `the events after it are missing (the chain's head is at position ${last})`,
    });
    expect((await verifyAuditChain(t.db.manager)).broken).not.toBeNull();
    await cut('DELETE FROM audit_event WHERE chain = $1');
    expect(await verifyAuditChain(t.db.manager, code)).toEqual({
      checked: 0, broken: { id: null, chain: code, seq: '0', reason: `every event of the chain is missing (its head is at position ${last})` },
    });
  });

  it('refuses deleting an event that is not in the archive, whatever the session sets', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 3; i++) await registerResident(officer);
    const before = await verifyAuditChain(t.db.manager, code);
    const runner = t.db.createQueryRunner();
    try {
      await runner.query('SET vrs.audit_archiving = on');
      await expect(runner.query('DELETE FROM audit_event WHERE chain = $1 AND seq > 1', [code])).rejects.toThrow(/append-only/);
    } finally {
      await runner.query('RESET vrs.audit_archiving');
      await runner.release();
    }
    expect(await verifyAuditChain(t.db.manager, code)).toEqual({ checked: before.checked, broken: null });
  });

  it('archives expired events instead of dropping them, and the chain still verifies', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 2; i++) await registerResident(officer);
    const before = await verifyAuditChain(t.db.manager, code);
    const moved = await archiveAuditEvents(t.db.manager, new Date(Date.now() + 60_000), code);
    expect(moved).toBe(before.checked);
    const [{ live }] = await t.db.query('SELECT count(*)::int AS live FROM audit_event WHERE chain = $1', [code]);
    const [{ archived }] = await t.db.query('SELECT count(*)::int AS archived FROM audit_event_archive WHERE chain = $1', [code]);
    expect({ live, archived }).toEqual({ live: 0, archived: before.checked });
    await expect(t.db.query('DELETE FROM audit_event_archive WHERE chain = $1', [code])).rejects.toThrow(/append-only/);
    await registerResident(officer);
    expect(await verifyAuditChain(t.db.manager, code)).toEqual({ checked: before.checked + 1, broken: null });
  });
});

describe('searching the operation log', () => {
  it('a municipality finds its own events by operation and target, and never another municipality\'s', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id } = await registerResident(a.officer);
    await registerResident(b.officer);
    await a.officer.gql('query($id: ID!) { resident(id: $id) { familyName } }', { id });

    const mine = await a.officer.gql(SEARCH, { filter: { targetId: id } });
    expect(mine.data.auditEvents.nodes.map((e: any) => e.operation)).toEqual(['resident.read', 'resident.register']);
    expect(mine.data.auditEvents.nodes.every((e: any) => e.municipalityCode === a.code && e.actorId === a.officer.accountId)).toBe(true);

    const all = await a.officer.gql(SEARCH, { first: 500 });
    expect(all.data.auditEvents.nodes.length).toBeGreaterThan(0);
    expect(all.data.auditEvents.nodes.every((e: any) => e.municipalityCode === a.code)).toBe(true);
    // Asking for another municipality explicitly changes nothing.
    const theirs = await a.officer.gql(SEARCH, { filter: { municipalityCode: b.code } });
    expect(theirs.data.auditEvents.nodes).toEqual([]);
  });

  it('logs the tickets and records read through a resident as their own reads are logged', async () => {
    const { code, officer } = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(officer);
    await (await tablet(t, code)).gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber) });
    await officer.gql('query($id: ID!) { resident(id: $id) { vaccinations { lotNumber } tickets { ticketNumber } } }', { id: residentId });
    const [ticket] = await t.db.query('SELECT id FROM ticket WHERE municipality_code = $1 AND resident_id = $2', [code, residentId]);
    const [{ id: recordId }] = await t.db.query('SELECT id FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [code, residentId]);
    const read = async (targetId: string) => (await officer.gql(SEARCH, { filter: { targetId } })).data.auditEvents.nodes
      .filter((e: any) => e.actorId === officer.accountId && e.operation.endsWith('.read')).map((e: any) => e.operation);
    expect(await read(recordId)).toEqual(['vaccination.read']);
    expect(await read(ticket.id)).toEqual(['ticket.read']);
  });

  it('the operator searches every municipality and pages with a cursor', async () => {
    const a = await t.tenant();
    for (let i = 0; i < 3; i++) await registerResident(a.officer);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const page1 = await operator.gql(SEARCH, { filter: { municipalityCode: a.code, operation: 'resident.register' }, first: 2 });
    expect(page1.data.auditEvents.nodes).toHaveLength(2);
    const page2 = await operator.gql(SEARCH, { filter: { municipalityCode: a.code, operation: 'resident.register' }, first: 2, after: page1.data.auditEvents.endCursor });
    expect(page2.data.auditEvents.nodes).toHaveLength(1);
    expect(page2.data.auditEvents.endCursor).toBeNull();
  });

  it.each([Role.NATIONAL, Role.PREFECTURE])('%s cannot read the log', async (role) => {
    const gov = await t.session(role, Channel.LGWAN, role === Role.PREFECTURE ? { prefectureCode: '13' } : {});
    expect(codes(await gov.gql(SEARCH))).toEqual(['FORBIDDEN']);
  });
});
