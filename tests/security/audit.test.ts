import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { rotateMasterKey, verifyAudit } from '../../src/cli';
import { createDataSource, migrate } from '../../src/db/data-source';
import { syncReferenceData } from '../../src/db/reference-data';
import { archiveAuditEvents, indexAuditTargets, verifyAuditChain, writeAudit } from '../../src/services/audit.service';
import { Channel, Role } from '../../src/schema/enums';
import { codes, registerResident, TestApp } from '../helpers/test-app';
import { doseInput, REGISTER_DOSE, residentWithTicket, tablet } from '../helpers/vaccination';

let t: TestApp;
const masterKey = randomBytes(32).toString('base64');
beforeAll(async () => {
  t = await TestApp.start();
  // `verify-audit` reads its configuration from the environment, as on a production host.
  process.env.MASTER_KEY = masterKey;
  process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
});
afterAll(() => t.stop());

/** What someone with the database owner's power can do: run statements with every trigger off. */
async function asOwnerWithoutTriggers(sql: string, params: unknown[] = [], db = t.db): Promise<void> {
  const runner = db.createQueryRunner();
  try {
    await runner.query('SET session_replication_role = replica');
    await runner.query(sql, params);
  } finally {
    await runner.query('SET session_replication_role = origin');
    await runner.release();
  }
}

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

  it('links a transaction\'s events of each chain in the order written, leaving out those rolled back, and finds them by target', async () => {
    const { code, officer } = await t.tenant();
    const insert = `INSERT INTO audit_event (request_id, channel, municipality_code, operation, target_ids, outcome)
                    VALUES ($1, 'CLI', $2, 'test.batch', ARRAY[$1], 'SUCCESS')`;
    const runner = t.db.createQueryRunner();
    try {
      await runner.startTransaction();
      for (let i = 0; i < 300; i++) await runner.query(insert, [`m${i}`, i % 3 === 0 ? null : code]);
      await runner.query('SAVEPOINT undone');
      await runner.query(insert, ['undone', code]);
      await runner.query('ROLLBACK TO SAVEPOINT undone');
      await runner.query(insert, ['last', code]);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    const written = Array.from({ length: 300 }, (_, i) => `m${i}`);
    for (const [chain, expected] of [[code, [...written.filter((_, i) => i % 3 !== 0), 'last']], ['platform', written.filter((_, i) => i % 3 === 0)]] as const) {
      const events = await t.db.query(`SELECT request_id, seq::int FROM audit_event WHERE chain = $1 AND operation = 'test.batch' ORDER BY seq`, [chain]);
      expect(events.map((e: { request_id: string }) => e.request_id)).toEqual(expected);
      expect(events.every((e: { seq: number }, i: number) => i === 0 || e.seq === events[i - 1].seq + 1)).toBe(true);
      expect(await verifyAuditChain(t.db.manager, chain)).toMatchObject({ broken: null });
    }
    // Found before the targets are indexed, by reading the events past the index, and after, through it, once.
    const search = async (targetId: string) => (await officer.gql(SEARCH, { filter: { targetId } })).data.auditEvents.nodes;
    const m299 = [expect.objectContaining({ operation: 'test.batch', targetIds: ['m299'], municipalityCode: code })];
    expect(await search('m299')).toEqual(m299);
    expect(await indexAuditTargets(t.db)).toBeGreaterThanOrEqual(301);
    const [mark] = await t.db.query('SELECT m.seq, h.last_seq FROM audit_target_mark m JOIN audit_chain h USING (chain) WHERE chain = $1', [code]);
    expect(mark.seq).toBe(mark.last_seq);
    const [{ indexed }] = await t.db.query(`SELECT count(*)::int AS indexed FROM audit_event_target WHERE target_id = 'm299'`);
    expect(indexed).toBe(1);
    expect(await search('m299')).toEqual(m299);
    expect(await search('undone')).toEqual([]);
  });

  it('indexes the targets an id can be, leaving out a null or overlong one, and one chain never holds up another', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const insert = `INSERT INTO audit_event (request_id, channel, municipality_code, operation, target_ids, outcome)
                    VALUES ('odd', 'CLI', $1, 'test.odd', $2, 'SUCCESS')`;
    await t.db.query(insert, [a.code, [null, 'odd-a', 'x'.repeat(3000)]]);
    await t.db.query(insert, [b.code, ['odd-b']]);
    await indexAuditTargets(t.db);
    const indexed = await t.db.query(`SELECT target_id FROM audit_event_target WHERE target_id IN ('odd-a', 'odd-b') ORDER BY 1`);
    expect(indexed.map((r: { target_id: string }) => r.target_id)).toEqual(['odd-a', 'odd-b']);
    const marks = await t.db.query('SELECT count(*)::int AS behind FROM audit_target_mark m JOIN audit_chain h USING (chain) WHERE chain = ANY ($1) AND m.seq < h.last_seq', [[a.code, b.code]]);
    expect(marks[0].behind).toBe(0);
  });

  it('a server indexes the targets of committed events in the background, every AUDIT_INDEX_SECONDS', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const indexed = async () => (await t.db.query('SELECT count(*)::int AS n FROM audit_event_target WHERE target_id = $1', [id]))[0].n;
    expect(await indexed()).toBe(0);
    const background = await TestApp.start({ auditIndexSeconds: 1 });
    try {
      for (let waited = 0; (await indexed()) === 0 && waited < 15_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
    } finally {
      await background.stop();
    }
    expect(await indexed()).toBe(1);
    const [mark] = await t.db.query('SELECT m.seq, h.last_seq FROM audit_target_mark m JOIN audit_chain h USING (chain) WHERE chain = $1', [code]);
    expect(mark.seq).toBe(mark.last_seq);
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
    const cut = (sql: string) => asOwnerWithoutTriggers(sql, [code]);
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
    await indexAuditTargets(t.db);
    const moved = await archiveAuditEvents(t.db.manager, new Date(Date.now() + 60_000), code);
    expect(moved).toBe(before.checked);
    const [{ live }] = await t.db.query('SELECT count(*)::int AS live FROM audit_event WHERE chain = $1', [code]);
    const [{ archived }] = await t.db.query('SELECT count(*)::int AS archived FROM audit_event_archive WHERE chain = $1', [code]);
    expect({ live, archived }).toEqual({ live: 0, archived: before.checked });
    // Their targets leave the search's index with them.
    const [{ targets }] = await t.db.query(
      'SELECT count(*)::int AS targets FROM audit_event_target t JOIN audit_event_archive a ON a.id = t.event_id WHERE a.chain = $1', [code]);
    expect(targets).toBe(0);
    await expect(t.db.query('DELETE FROM audit_event_archive WHERE chain = $1', [code])).rejects.toThrow(/append-only/);
    const { id } = await registerResident(officer);
    expect(await verifyAuditChain(t.db.manager, code)).toEqual({ checked: before.checked + 1, broken: null });
    const found = await officer.gql(SEARCH, { filter: { targetId: id } });
    expect(found.data.auditEvents.nodes.map((e: { operation: string }) => e.operation)).toEqual(['resident.register']);
  });
});

/** Runs `npm run cli -- verify-audit <args>`: what it printed, and its exit code. */
async function verifyAuditCommand(...args: string[]): Promise<{ out: string[]; err: string[]; exitCode: number; digest: string | undefined }> {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    await verifyAudit(...args);
    const out = log.mock.calls.map(([line]) => String(line));
    return { out, err: error.mock.calls.map(([line]) => String(line)), exitCode: Number(process.exitCode ?? 0), digest: out.at(-1) };
  } finally {
    log.mockRestore();
    error.mockRestore();
    process.exitCode = 0;
  }
}

const checkpointsOf = (scope: string, db = t.db): Promise<{ position: string; heads: { chain: string; seq: string }[] }[]> => db.query(
  `SELECT c.position, coalesce(json_agg(json_build_object('chain', h.chain, 'seq', h.seq::text)) FILTER (WHERE h.chain IS NOT NULL), '[]') AS heads
   FROM audit_checkpoint c LEFT JOIN audit_checkpoint_head h USING (scope, position) WHERE c.scope = $1 GROUP BY c.position ORDER BY c.position`,
  [scope],
);

const cli = { requestId: 'test', channel: 'CLI', actor: null };

/** Runs commands against a database of its own: the shared one holds chains and series other tests broke on purpose. */
async function withOwnDatabase(run: (own: DataSource) => Promise<void>): Promise<void> {
  const name = `audit_checkpoints_${process.pid}`;
  await t.db.query(`CREATE DATABASE ${name}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${name}`;
  const shared = process.env.DATABASE_URL;
  const own = createDataSource(url.toString(), { poolSize: 1 });
  try {
    process.env.DATABASE_URL = url.toString();
    await own.initialize();
    await migrate(own);
    await syncReferenceData(own);
    await run(own);
  } finally {
    process.env.DATABASE_URL = shared;
    if (own.isInitialized) await own.destroy();
    await t.db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

/** Edits event 2, cuts the last one, relinks every later hash with the database's own function and moves the head back. */
const REWRITE = (code: string, edited: string, cut: string) => `
  UPDATE audit_event SET outcome = 'FAILURE', target_ids = '{}' WHERE id = ${edited};
  DELETE FROM audit_event WHERE id = ${cut};
  DO $$ DECLARE e audit_event; prev bytea; h bytea; BEGIN
    FOR e IN SELECT * FROM audit_event WHERE chain = '${code}' ORDER BY seq LOOP
      IF e.seq = 1 THEN prev := '\\x'::bytea; END IF;
      e.prev_hash := prev;
      h := audit_event_digest(prev, e);
      UPDATE audit_event SET prev_hash = prev, hash = h WHERE id = e.id;
      prev := h;
      UPDATE audit_chain SET last_seq = e.seq, last_hash = h WHERE chain = '${code}';
    END LOOP; END $$`;

describe('checkpoints signed outside the database', () => {
  it('an intact log passes, gains a checkpoint of its head, and prints its digest; archived events still match', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 3; i++) await registerResident(officer);
    const [{ last }] = await t.db.query('SELECT max(seq)::int AS last FROM audit_event WHERE chain = $1', [code]);
    const first = await verifyAuditCommand(code);
    expect(first).toMatchObject({ exitCode: 0, err: [] });
    expect(first.out[0]).toBe(`Operation log intact: ${last} events verified.`);
    expect(first.out[1]).toBe(`Checkpoint 1 of ${code} written (0 before it verified); keep its digest outside the system, for --expect:`);
    expect(first.digest).toMatch(/^[0-9a-f]{32}$/);
    expect(await checkpointsOf(code)).toEqual([{ position: '1', heads: [{ chain: code, seq: String(last) }] }]);
    for (const table of ['audit_checkpoint', 'audit_checkpoint_head']) {
      await expect(t.db.query(`DELETE FROM ${table} WHERE scope = $1`, [code])).rejects.toThrow(/append-only/);
      await expect(t.db.query(`TRUNCATE ${table} CASCADE`)).rejects.toThrow(/append-only/);
      await expect(t.app.services.db.query(`UPDATE ${table} SET position = 2 WHERE scope = $1`, [code])).rejects.toThrow(/permission denied/);
    }

    await registerResident(officer);
    await archiveAuditEvents(t.db.manager, new Date(Date.now() + 60_000), code);
    const second = await verifyAuditCommand(code, '--expect', first.digest!);
    expect(second.exitCode).toBe(0);
    expect(second.out[1]).toBe(`Checkpoint 2 of ${code} written (1 before it verified); keep its digest outside the system, for --expect:`);
    expect(second.digest).not.toBe(first.digest);
    // A chain that has not moved is not recorded again: the checkpoint before still holds it.
    expect((await verifyAuditCommand(code)).exitCode).toBe(0);
    expect((await checkpointsOf(code)).map((c) => c.heads)).toEqual([[{ chain: code, seq: String(last) }], [{ chain: code, seq: String(last + 1) }], []]);
  });

  it('catches a chain rewritten, relinked and its head moved back, once a checkpoint was taken before', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 5; i++) await registerResident(officer);
    expect((await verifyAuditCommand(code)).exitCode).toBe(0);
    const events: { id: string }[] = await t.db.query('SELECT id FROM audit_event WHERE chain = $1 ORDER BY seq', [code]);
    await asOwnerWithoutTriggers(REWRITE(code, events[1].id, events[events.length - 1].id));
    // The chain alone verifies: this is what the checkpoint is for.
    expect(await verifyAuditChain(t.db.manager, code)).toMatchObject({ broken: { reason: expect.stringContaining('checkpoint 1') } });

    const result = await verifyAuditCommand(code);
    expect(result).toMatchObject({ exitCode: 1, out: [] });
    expect(result.err).toEqual([`Operation log BROKEN in chain ${code}: the event at position ${events.length} is missing (checkpoint 1 of ${code} recorded it). ${events.length - 1} events checked.`]);
    expect(await checkpointsOf(code)).toHaveLength(1);
    // The event the checkpoint names is still there but rewritten: its hash differs.
    const { code: other, officer: otherOfficer } = await t.tenant();
    for (let i = 0; i < 5; i++) await registerResident(otherOfficer);
    expect((await verifyAuditCommand(other)).exitCode).toBe(0);
    const theirs: { id: string }[] = await t.db.query('SELECT id FROM audit_event WHERE chain = $1 ORDER BY seq', [other]);
    await asOwnerWithoutTriggers(REWRITE(other, theirs[1].id, '0'));
    const end = theirs.length;
    expect((await verifyAuditCommand(other)).err).toEqual([
      `Operation log BROKEN at event ${theirs[end - 1].id} (chain ${other}, position ${end}): it does not match checkpoint 1 of ${other}: the events up to it were rewritten. ${end} events checked.`,
    ]);
  });

  it('catches a checkpoint rewritten to match, or edited or removed in the middle of the series', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 3; i++) {
      await registerResident(officer);
      expect((await verifyAuditCommand(code)).exitCode).toBe(0);
    }
    // Whoever rewrites the chain can rewrite what the checkpoints recorded, but not sign it.
    const events: { id: string; seq: string }[] = await t.db.query('SELECT id, seq FROM audit_event WHERE chain = $1 ORDER BY seq', [code]);
    const pinned = await t.db.query('SELECT scope, position, chain, seq FROM audit_checkpoint_head WHERE chain = $1', [code]);
    expect(pinned).toHaveLength(3);
    await asOwnerWithoutTriggers(`${REWRITE(code, events[0].id, '0')};
      UPDATE audit_checkpoint_head p SET hash = e.hash FROM audit_event e WHERE p.chain = '${code}' AND e.chain = p.chain AND e.seq = p.seq`);
    expect(await verifyAuditChain(t.db.manager, code)).toMatchObject({ broken: null });
    expect(await verifyAuditCommand(code)).toMatchObject({ exitCode: 1, err: [
      `Operation log checkpoints BROKEN: checkpoint 1 of ${code} does not match its MAC: it or one before it was altered or removed, or it was signed under neither MASTER_KEY nor PREVIOUS_MASTER_KEY.`,
    ] });

    const { code: other, officer: otherOfficer } = await t.tenant();
    for (let i = 0; i < 4; i++) {
      await registerResident(otherOfficer);
      expect((await verifyAuditCommand(other)).exitCode).toBe(0);
    }
    const altered = `Operation log checkpoints BROKEN: checkpoint 2 of ${other} does not match its MAC: it or one before it was altered or removed, or it was signed under neither MASTER_KEY nor PREVIOUS_MASTER_KEY.`;
    await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at - interval '1 day' WHERE scope = $1 AND position = 2`, [other]);
    expect((await verifyAuditCommand(other)).err).toEqual([altered]);
    await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at + interval '1 day' WHERE scope = $1 AND position = 2`, [other]);
    expect((await verifyAuditCommand(other)).exitCode).toBe(0);

    await asOwnerWithoutTriggers(`DELETE FROM audit_checkpoint_head WHERE scope = '${other}' AND position = 2;
      DELETE FROM audit_checkpoint WHERE scope = '${other}' AND position = 2`);
    expect((await verifyAuditCommand(other)).err).toEqual([`Operation log checkpoints BROKEN: checkpoint 2 of ${other} is missing.`]);
    // The gap closed up, as a careful hand would: the next checkpoint's MAC no longer matches.
    await asOwnerWithoutTriggers(`UPDATE audit_checkpoint_head SET position = position - 1 WHERE scope = '${other}' AND position > 2;
      UPDATE audit_checkpoint SET position = position - 1 WHERE scope = '${other}' AND position > 2`);
    expect((await verifyAuditCommand(other)).err).toEqual([altered]);
    expect(await checkpointsOf(other)).toHaveLength(4);
  });

  it('fails --expect with a digest no checkpoint has: the newest checkpoints cut, or a wrong digest', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    const first = (await verifyAuditCommand(code)).digest!;
    await registerResident(officer);
    const second = (await verifyAuditCommand(code)).digest!;
    expect((await verifyAuditCommand(code, '--expect', second.toUpperCase())).exitCode).toBe(0);

    await asOwnerWithoutTriggers(`DELETE FROM audit_checkpoint_head WHERE scope = '${code}' AND position >= 2;
      DELETE FROM audit_checkpoint WHERE scope = '${code}' AND position >= 2`);
    expect(await verifyAuditCommand(code, '--expect', second)).toMatchObject({ exitCode: 1, err: [
      `Operation log checkpoints BROKEN: no checkpoint of ${code} has the digest ${second}: the checkpoints since it was printed were removed, or it belongs to another series.`,
    ] });
    expect((await verifyAuditCommand(code, '--expect', randomBytes(16).toString('hex'))).exitCode).toBe(1);
    expect(await checkpointsOf(code)).toHaveLength(1);
    expect((await verifyAuditCommand(code, '--expect', first)).exitCode).toBe(0);
    await expect(verifyAudit(code, '--expect', 'diary')).rejects.toThrow('verify-audit: --expect takes the 32 hexadecimal digits an earlier verify-audit printed');
    await expect(verifyAudit(code, '--expect')).rejects.toThrow('--expect needs a value');
  });

  it('without a chain, verifies every chain and checkpoints each that moved, in the series of all chains', () => withOwnDatabase(async (own) => {
    expect((await verifyAuditCommand()).out[1]).toBe('Checkpoint 1 of all written (0 before it verified); keep its digest outside the system, for --expect:');
    await writeAudit(own.manager, cli, [0, 1, 2].map(() => ({ operation: 'test.checkpoint', municipalityCode: '131016', targetIds: [], outcome: 'SUCCESS' as const })));
    await writeAudit(own.manager, cli, [{ operation: 'test.checkpoint', municipalityCode: null, targetIds: [], outcome: 'SUCCESS' }]);
    const intact = await verifyAuditCommand();
    expect(intact.out[0]).toBe('Operation log intact: 4 events verified.');
    expect(await own.query(`SELECT chain, seq::int FROM audit_checkpoint_head WHERE scope = 'all' ORDER BY chain`))
      .toEqual([{ chain: '131016', seq: 3 }, { chain: 'platform', seq: 1 }]);
    const events: { id: string }[] = await own.query(`SELECT id FROM audit_event WHERE chain = '131016' ORDER BY seq`);
    await asOwnerWithoutTriggers(REWRITE('131016', events[0].id, events[2].id), [], own);
    expect(await verifyAuditCommand('--expect', intact.digest!)).toMatchObject({ exitCode: 1, err: [
      'Operation log BROKEN in chain 131016: the event at position 3 is missing (checkpoint 2 of all recorded it). 3 events checked.',
    ] });
  }), 120_000);

  it('keeps the checkpoints of a replaced master key: verified with PREVIOUS_MASTER_KEY, then held by the first signed under the new one', () => withOwnDatabase(async (own) => {
    await writeAudit(own.manager, cli, [{ operation: 'test.checkpoint', municipalityCode: '131016', targetIds: [], outcome: 'SUCCESS' }]);
    const code = '131016';
    expect((await verifyAuditCommand(code)).exitCode).toBe(0);
    const newKey = randomBytes(32).toString('base64');
    try {
      process.env.MASTER_KEY = newKey;
      process.env.PREVIOUS_MASTER_KEY = masterKey;
      expect((await verifyAuditCommand(code)).exitCode).toBe(0);
      delete process.env.PREVIOUS_MASTER_KEY;
      expect((await verifyAuditCommand(code)).exitCode).toBe(0);
      // Held, not merely tolerated: the old checkpoint cannot be edited once its key is gone.
      await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at - interval '1 day' WHERE scope = '${code}' AND position = 1`, [], own);
      expect((await verifyAuditCommand(code)).err).toEqual([expect.stringContaining(`checkpoint 1 of ${code} does not match its MAC`)]);
      await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at + interval '1 day' WHERE scope = '${code}' AND position = 1`, [], own);
      expect((await verifyAuditCommand(code)).exitCode).toBe(0);
      // A key that signed none of them is refused: the newest checkpoint must verify.
      process.env.MASTER_KEY = randomBytes(32).toString('base64');
      expect((await verifyAuditCommand(code)).err).toEqual([expect.stringContaining(`checkpoint 1 of ${code} does not match its MAC`)]);
    } finally {
      process.env.MASTER_KEY = masterKey;
      delete process.env.PREVIOUS_MASTER_KEY;
    }
  }), 120_000);

  it('after a change of master key done as the README says, every series verifies without the previous key, and stays tamper-evident', () => withOwnDatabase(async (own) => {
    await writeAudit(own.manager, cli, [{ operation: 'test.checkpoint', municipalityCode: '131016', targetIds: [], outcome: 'SUCCESS' }]);
    await writeAudit(own.manager, cli, [{ operation: 'test.checkpoint', municipalityCode: null, targetIds: [], outcome: 'SUCCESS' }]);
    // Before the change, each series has a checkpoint under the old key.
    for (const scope of [['platform'], ['131016'], []]) expect((await verifyAuditCommand(...scope)).exitCode).toBe(0);
    const newKey = randomBytes(32).toString('base64');
    try {
      // (1) and (2): the new key, the old one as PREVIOUS_MASTER_KEY, and the data keys re-wrapped.
      process.env.MASTER_KEY = newKey;
      process.env.PREVIOUS_MASTER_KEY = masterKey;
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await rotateMasterKey();
      } finally {
        log.mockRestore();
      }
      // An old checkpoint altered is caught while both keys are set, and then nothing is handed over.
      await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at - interval '1 day' WHERE scope = 'platform' AND position = 1`, [], own);
      expect(await verifyAuditCommand()).toMatchObject({ exitCode: 1, err: [
        'Operation log checkpoints BROKEN: checkpoint 1 of platform does not match its MAC: it or one before it was altered or removed, or it was signed under neither MASTER_KEY nor PREVIOUS_MASTER_KEY.',
      ] });
      expect((await checkpointsOf('platform', own)).length + (await checkpointsOf('131016', own)).length + (await checkpointsOf('all', own)).length).toBe(3);
      await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at + interval '1 day' WHERE scope = 'platform' AND position = 1`, [], own);
      // (3): one run hands every series over to the new key; the other series' checkpoints record no heads.
      const handOver = await verifyAuditCommand();
      expect(handOver.exitCode).toBe(0);
      expect(handOver.out).toContain('Checkpoints of 131016, platform handed over to the new MASTER_KEY.');
      expect(await checkpointsOf('platform', own)).toEqual([{ position: '1', heads: [{ chain: 'platform', seq: '1' }] }, { position: '2', heads: [] }]);
      expect(await checkpointsOf('131016', own)).toEqual([{ position: '1', heads: [{ chain: '131016', seq: '1' }] }, { position: '2', heads: [] }]);
      // Handed over once: a second run leaves the other series as they are.
      expect((await verifyAuditCommand()).exitCode).toBe(0);
      expect(await checkpointsOf('platform', own)).toHaveLength(2);
      // (4): without the previous key every series verifies, and keeps verifying.
      delete process.env.PREVIOUS_MASTER_KEY;
      for (const scope of [[], ['platform'], ['131016'], ['platform']]) expect(await verifyAuditCommand(...scope)).toMatchObject({ exitCode: 0, err: [] });
      // The old checkpoints are held by the hand-over: altered, or the hand-over removed, they break the series.
      await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at - interval '1 day' WHERE scope = '131016' AND position = 1`, [], own);
      expect((await verifyAuditCommand('131016')).err).toEqual([expect.stringContaining('checkpoint 1 of 131016 does not match its MAC')]);
      await asOwnerWithoutTriggers(`UPDATE audit_checkpoint SET taken_at = taken_at + interval '1 day' WHERE scope = '131016' AND position = 1`, [], own);
      await asOwnerWithoutTriggers(`DELETE FROM audit_checkpoint WHERE scope = '131016' AND position >= 2`, [], own);
      expect((await verifyAuditCommand('131016')).err).toEqual([expect.stringContaining('checkpoint 1 of 131016 does not match its MAC')]);
      // A hand-over forged by whoever holds the database alone is not signed under the new key.
      const [last] = await own.query(`SELECT position, taken_at FROM audit_checkpoint WHERE scope = 'platform' ORDER BY position DESC LIMIT 1`);
      await asOwnerWithoutTriggers('INSERT INTO audit_checkpoint (scope, position, taken_at, mac) VALUES ($1, $2, $3, $4)', ['platform', Number(last.position) + 1, new Date(), randomBytes(16)], own);
      expect((await verifyAuditCommand('platform')).err).toEqual([expect.stringContaining(`checkpoint ${Number(last.position) + 1} of platform does not match its MAC`)]);
    } finally {
      process.env.MASTER_KEY = masterKey;
      delete process.env.PREVIOUS_MASTER_KEY;
    }
  }), 120_000);
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
    // The municipality filter is the operator's: an officer naming another municipality, or its own, is refused, not answered with nothing.
    for (const municipalityCode of [b.code, a.code]) {
      const theirs = await a.officer.gql(SEARCH, { filter: { municipalityCode } });
      expect(codes(theirs)).toEqual(['FORBIDDEN']);
      expect(theirs.data).toBeNull();
    }
  });

  it('refuses a filter that could match nothing, naming it and why, instead of an empty page', async () => {
    const a = await t.tenant();
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const wrongCheck = `${a.code.slice(0, 5)}${(Number(a.code[5]) + 1) % 10}`;
    const cases: [Record<string, string>, string[], string][] = [
      [{ municipalityCode: wrongCheck }, ['filter', 'municipalityCode'], 'INVALID_CHECK_DIGIT'],
      [{ municipalityCode: '13101' }, ['filter', 'municipalityCode'], 'INVALID_FORMAT'],
      [{ municipalityCode: '' }, ['filter', 'municipalityCode'], 'INVALID_FORMAT'],
      [{ municipalityCode: '479993' }, ['filter', 'municipalityCode'], 'UNKNOWN_MUNICIPALITY'],
      [{ actorId: 'admin' }, ['filter', 'actorId'], 'INVALID_FORMAT'],
      // Well-formed, but no account has it.
      [{ actorId: '00000000-0000-0000-0000-000000000000' }, ['filter', 'actorId'], 'NOT_FOUND'],
      [{ from: '2030-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z' }, ['filter', 'to'], 'INVALID_DATE'],
      [{ from: '2030-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' }, ['filter', 'to'], 'INVALID_DATE'],
    ];
    for (const [filter, field, reason] of cases) {
      for (const reader of [operator, a.officer]) {
        const result = await reader.gql(SEARCH, { filter });
        expect(result.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field, reason });
        expect(result.errors?.[0].message).toMatch(new RegExp(`^${field.join('\\.')}: `));
      }
    }
    expect((await operator.gql(SEARCH, { filter: { from: '2030-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z' } })).errors?.[0].message)
      .toBe('filter.to: must not be before from');
    // Full-width digits are the same code.
    await registerResident(a.officer);
    const fullWidth = a.code.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
    const found = await operator.gql(SEARCH, { filter: { municipalityCode: fullWidth, operation: 'resident.register' } });
    expect(found.data.auditEvents.nodes).toEqual([expect.objectContaining({ municipalityCode: a.code, operation: 'resident.register' })]);
  });

  it('finds an actor and a target by their ids written in upper case, and an actor of another municipality', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id } = await registerResident(a.officer);
    const byTarget = await a.officer.gql(SEARCH, { filter: { targetId: id.toUpperCase() } });
    expect(byTarget.data.auditEvents.nodes.map((e: any) => e.operation)).toEqual(['resident.register']);
    const byActor = await a.officer.gql(SEARCH, { filter: { actorId: a.officer.accountId.toUpperCase(), operation: 'resident.register' } });
    expect(byActor.data.auditEvents.nodes).toEqual([expect.objectContaining({ actorId: a.officer.accountId, targetIds: [id] })]);
    // An account that exists is a filter that may match: the officer's log simply has none of its events.
    const theirs = await a.officer.gql(SEARCH, { filter: { actorId: b.officer.accountId } });
    expect(theirs.errors).toBeUndefined();
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
    // A page that ends with the last event says there is no next one.
    const whole = await operator.gql(SEARCH, { filter: { municipalityCode: a.code, operation: 'resident.register' }, first: 3 });
    expect(whole.data.auditEvents).toMatchObject({ nodes: [{}, {}, {}], endCursor: null });
    // A cursor it did not hand out, an empty one included, is refused rather than read as the first page.
    for (const after of ['x', '']) expect(codes(await operator.gql(SEARCH, { filter: { municipalityCode: a.code }, first: 2, after }))).toEqual(['BAD_USER_INPUT']);
  });

  it('pages newest first by time, through events written at the same instant, and refuses a cursor of an event the reader cannot see', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const cli = { requestId: 'test', channel: 'CLI', actor: null } as const;
    const event = (operation: string) => ({ operation, municipalityCode: a.code, targetIds: [], outcome: 'SUCCESS' as const });
    // Five events of one statement share its time, to the microsecond; an event written last is dated
    // an hour earlier, as a long statement dates its events when it started.
    await writeAudit(t.db.manager, cli, [event('test.before')]);
    await writeAudit(t.db.manager, cli, [0, 1, 2, 3, 4].map(() => event('test.together')));
    await writeAudit(t.db.manager, cli, [event('test.after')]);
    await t.db.query(`INSERT INTO audit_event (request_id, channel, municipality_code, operation, target_ids, outcome, occurred_at)
      VALUES ('test', 'CLI', $1, 'test.earlier', '{}', 'SUCCESS', now() - interval '1 hour')`, [a.code]);
    // A window of the hour up to now, which the tenant's own events of its creation fall in too.
    const from = new Date(Date.now() - 3_600_000 - 60_000);
    const to = new Date(Date.now() + 1_000);
    const expected: { id: string }[] = await t.db.query(
      `SELECT id::text FROM audit_event WHERE municipality_code = $1 AND seq IS NOT NULL AND occurred_at >= $2 AND occurred_at < $3
       ORDER BY occurred_at DESC, id DESC`, [a.code, from, to]);
    const seen: { id: string; operation: string }[] = [];
    let after: string | null = null;
    do {
      const page: any = (await a.officer.gql(SEARCH, { filter: { from: from.toISOString(), to: to.toISOString() }, first: 2, after })).data.auditEvents;
      seen.push(...page.nodes);
      after = page.endCursor;
    } while (after);
    expect(seen.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(seen.map((e) => e.operation).filter((o) => o.startsWith('test.'))).toEqual(['test.after', ...Array(5).fill('test.together'), 'test.before', 'test.earlier']);
    // Another municipality's event is no cursor for this officer: refused as one it never handed out.
    const [other] = await t.db.query('SELECT id::text FROM audit_event WHERE municipality_code = $1 AND seq IS NOT NULL LIMIT 1', [b.code]);
    expect(codes(await a.officer.gql(SEARCH, { first: 2, after: other.id }))).toEqual(['BAD_USER_INPUT']);
  });

  it.each([Role.NATIONAL, Role.PREFECTURE])('%s cannot read the log', async (role) => {
    const gov = await t.session(role, Channel.LGWAN, role === Role.PREFECTURE ? { prefectureCode: '13' } : {});
    expect(codes(await gov.gql(SEARCH))).toEqual(['FORBIDDEN']);
  });
});
