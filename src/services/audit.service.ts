import { DataSource, EntityManager } from 'typeorm';
import { Actor } from '../auth/actor';
import type { Context } from '../context';
import { endWithClient, prepared } from '../db/pg-client';
import { CheckpointHead, CheckpointLink, checkpointDigest, checkpointKey, checkpointMac, headsHash, macMatches } from '../crypto/audit-checkpoint';
import { AuditEvent, AuditOutcome } from '../entities/audit-event.entity';
import { applyScope, reachesEveryTenant, scopeOf } from '../policies/scope';
import { AuditEventConnection, AuditEventFilter } from '../resolvers/audit.types';
import { pageOf } from '../resolvers/cursor';
import { badArgument, badCursor, checkPageSize, ErrorCode, forbidden, identifierError } from '../errors';
import { checkMunicipalityCode, isUuid } from '../validation/identifiers';
import { noMunicipalityMessage } from '../validation/own-codes';

/** Ids named by one operation-log event of a bulk change (an import, a bulk issuance). */
export const AUDIT_BATCH = 1000;

export interface AuditEntry {
  operation: string;
  municipalityCode: string | null;
  targetIds: string[];
  outcome: AuditOutcome;
}

export interface AuditSource {
  requestId: string;
  channel: string;
  actor: Actor | null;
}

/** Anything that runs SQL: an EntityManager, or a raw client inside its own transaction. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** The request id, actor, role and channel of an operation-log line, in the order of its columns. */
export const auditSourceParams = (source: AuditSource): unknown[] =>
  [source.requestId, source.actor?.accountId ?? null, source.actor?.role ?? null, source.channel];

/**
 * Writes operation-log lines. Values of personal data never enter them: ids and names of operations only.
 * Lines are dated when their statement runs, not when the transaction began: a registry import's
 * transaction is open for the whole upload, and its lines would otherwise predate what they follow.
 */
export async function writeAudit(db: Queryable, source: AuditSource, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(prepared(
    `INSERT INTO audit_event (request_id, actor_id, role, channel, municipality_code, operation, target_ids, outcome, occurred_at)
     SELECT $1, $2, $3, $4, e.municipality_code, e.operation, ARRAY(SELECT jsonb_array_elements_text(e.target_ids)), e.outcome, statement_timestamp()
     FROM jsonb_to_recordset($5::jsonb) AS e(municipality_code text, operation text, target_ids jsonb, outcome text)`),
    [
      ...auditSourceParams(source),
      JSON.stringify(entries.map((e) => ({ municipality_code: e.municipalityCode, operation: e.operation, target_ids: e.targetIds, outcome: e.outcome }))),
    ],
  );
}

/**
 * The statement, to put in a CTE of a bulk change, that logs every id the change wrote, up to
 * AUDIT_BATCH an event: `changes` selects (operation, id); each event names `first` (a text
 * array) and then its ids. `source` names the four placeholders of auditSourceParams. Rows are
 * cut into batches in the order they come, without sorting them by operation first (a million
 * residents and their tickets took 1.4 s longer so): where one operation's rows end inside a
 * batch, that batch gives an event to each.
 */
export function loggedInBatches(changes: string, municipality: string, first: string, source: string): string {
  return `INSERT INTO audit_event (request_id, actor_id, role, channel, municipality_code, operation, target_ids, outcome, occurred_at)
    SELECT ${source}, ${municipality}, x.operation, ${first} || array_agg(x.id::text), 'SUCCESS', statement_timestamp()
    FROM (SELECT operation, id, (row_number() OVER () - 1) / ${AUDIT_BATCH} AS batch FROM (${changes}) c) x
    GROUP BY x.operation, x.batch`;
}

/** The read-log operations that read a resident's My Number, counted for intrusion detection: the number shown, or a look-up by it. */
export const MY_NUMBER_READS = { shown: 'resident.myNumber.read', found: 'resident.lookupByMyNumber', notFound: 'resident.lookupByMyNumber.none' } as const;

/**
 * Reads of personal data noted during a request, written in one statement when the response is
 * sent. Changes are written inside their own transaction instead, so they commit together.
 */
export class ReadAudit {
  private readonly entries = new Map<string, AuditEntry>();
  /** Look-ups by My Number, found or not: the log names a look-up that found nobody once per request, however many there were. */
  private lookups = 0;

  note(operation: string, municipalityCode: string, targetId: string): void {
    if (operation === MY_NUMBER_READS.found || operation === MY_NUMBER_READS.notFound) this.lookups++;
    const key = `${operation}|${municipalityCode}`;
    const entry = this.entries.get(key) ?? { operation, municipalityCode, targetIds: [], outcome: 'SUCCESS' as const };
    if (!entry.targetIds.includes(targetId)) entry.targetIds.push(targetId);
    this.entries.set(key, entry);
  }

  get isEmpty(): boolean {
    return this.entries.size === 0;
  }

  /** My Numbers read, for intrusion detection: the residents whose number was shown, and the look-ups by number. */
  get myNumbersRead(): number {
    let shown = 0;
    for (const entry of this.entries.values()) if (entry.operation === MY_NUMBER_READS.shown) shown += entry.targetIds.length;
    return shown + this.lookups;
  }

  async flush(db: Queryable, source: AuditSource): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.lookups = 0;
    await writeAudit(db, source, entries);
  }
}

export interface ChainBreak {
  /** The event where the chain breaks; null when it is missing, or none of the chain's events is left. */
  id: string | null;
  chain: string;
  seq: string;
  reason: string;
}

/**
 * Recomputes every event's hash and link, live and archived, and compares each chain's last event
 * with its head in audit_chain, so that events cut from the end of a chain are noticed as well as
 * a gap, and every event a checkpoint recorded with the hash it recorded, so that a chain
 * rewritten and relinked with its head moved is noticed too. Returns the first event whose
 * content, link, sequence, end or checkpoint does not match (by chain, then sequence), or null
 * when intact. One statement: the heads and the events are read at the same instant, and an event
 * and its head advance in the same commit. The checkpoints' own MACs are verifyAuditLog's to check.
 */
export async function verifyAuditChain(db: EntityManager, chain?: string): Promise<{ checked: number; broken: ChainBreak | null }> {
  const [result] = await db.query(
    `WITH events AS (
       SELECT e FROM audit_event e WHERE $1::text IS NULL OR e.chain = $1
       UNION ALL
       SELECT a::text::audit_event FROM audit_event_archive a WHERE $1::text IS NULL OR a.chain = $1
     ), checked AS (
       SELECT (e).id, (e).chain, (e).seq, (e).hash, (e).prev_hash,
              audit_event_digest((e).prev_hash, e) AS recomputed,
              lag((e).hash) OVER w AS previous_hash, lag((e).seq) OVER w AS previous_seq
       FROM events WINDOW w AS (PARTITION BY (e).chain ORDER BY (e).seq)
     ), judged AS (
       SELECT id, chain, seq, CASE
           WHEN hash IS DISTINCT FROM recomputed THEN 'content does not match its hash'
           WHEN previous_seq IS NULL AND (seq <> 1 OR prev_hash <> '\\x'::bytea) THEN 'chain does not start at its first event'
           WHEN previous_seq IS NOT NULL AND seq <> previous_seq + 1 THEN 'an event before it is missing'
           WHEN previous_seq IS NOT NULL AND prev_hash IS DISTINCT FROM previous_hash THEN 'link to the previous event does not match'
         END AS reason
       FROM checked
     ), ends AS (
       SELECT DISTINCT ON (chain) chain, id, seq, hash FROM checked WHERE seq IS NOT NULL ORDER BY chain, seq DESC
     ), heads AS (
       SELECT coalesce(h.chain, e.chain) AS chain, e.id, coalesce(e.seq, 0) AS seq, CASE
           WHEN h.chain IS NULL THEN 'its chain has no head'
           WHEN e.chain IS NULL AND h.last_seq > 0 THEN format('every event of the chain is missing (its head is at position %s)', h.last_seq)
           WHEN e.seq < h.last_seq THEN format('the events after it are missing (the chain''s head is at position %s)', h.last_seq)
           WHEN e.seq > h.last_seq OR e.hash IS DISTINCT FROM h.last_hash THEN 'it does not match the head of its chain'
         END AS reason
       FROM (SELECT * FROM audit_chain WHERE $1::text IS NULL OR chain = $1) h
       FULL JOIN ends e ON e.chain = h.chain
     ), pinned AS (
       SELECT p.chain, p.seq, c.id, CASE
           WHEN c.chain IS NULL THEN format('the event at position %s is missing (checkpoint %s of %s recorded it)', p.seq, p.position, p.scope)
           WHEN c.hash IS DISTINCT FROM p.hash THEN format('it does not match checkpoint %s of %s: the events up to it were rewritten', p.position, p.scope)
         END AS reason
       FROM audit_checkpoint_head p LEFT JOIN checked c ON c.chain = p.chain AND c.seq = p.seq
       WHERE $1::text IS NULL OR p.chain = $1
     ), breaks AS (
       SELECT chain, seq, 0 AS rank, id, reason FROM judged WHERE reason IS NOT NULL
       UNION ALL
       SELECT chain, seq, 1, id, reason FROM heads WHERE reason IS NOT NULL
       UNION ALL
       SELECT chain, seq, 2, id, reason FROM pinned WHERE reason IS NOT NULL
     )
     SELECT (SELECT count(*) FROM judged)::int AS checked,
            (SELECT json_build_object('id', id::text, 'chain', chain, 'seq', seq::text, 'reason', reason)
               FROM breaks ORDER BY chain, seq, rank LIMIT 1) AS broken`,
    [chain ?? null],
  );
  return { checked: result.checked, broken: result.broken };
}

/** The series of checkpoints of every chain at once; a series of one chain bears the chain's name. */
export const ALL_CHAINS = 'all';

export interface AuditVerification {
  checked: number;
  /** The first event that breaks its chain or no longer matches a checkpoint. */
  broken: ChainBreak | null;
  /** Why the series of checkpoints cannot be trusted: one altered or removed, or the expected one missing. */
  checkpointsBroken: string | null;
  /** The checkpoint this run wrote, when nothing was broken, and how many before it were verified. */
  checkpoint: { scope: string; position: number; digest: string; verified: number } | null;
  /** The other series that, during a change of master key, were handed over to the new one. */
  handedOver: string[];
}

/**
 * What `verify-audit` does: verifies the chains (all, or one) against their heads and the
 * checkpoints, and the series of checkpoints of that scope against their MACs; when all is intact,
 * writes a checkpoint of the heads just verified (at the same instant) and returns its digest.
 * `expect` is a digest an earlier run printed, kept outside the system: it must still be in the
 * series, so that cutting the newest checkpoints, then rewriting what came after the last one left,
 * is noticed too.
 *
 * While a change of master key is under way (PREVIOUS_MASTER_KEY set), it also verifies every
 * other series and hands over each whose newest checkpoint the new key did not sign: a checkpoint
 * recording no heads, signed under the new key, that holds the old ones in place once the previous
 * key is gone. Without it a series this run does not cover would end in checkpoints no configured
 * key signs, and stay broken.
 */
export async function verifyAuditLog(
  db: DataSource,
  masterKeys: { masterKey: Buffer; previousMasterKey?: Buffer },
  options: { chain?: string; expect?: string } = {},
): Promise<AuditVerification> {
  const scope = options.chain ?? ALL_CHAINS;
  const keys = [masterKeys.masterKey, masterKeys.previousMasterKey].filter((key) => key !== undefined).map(checkpointKey);
  const handingOver = masterKeys.previousMasterKey !== undefined;
  const runner = db.createQueryRunner();
  await runner.connect();
  const locked: string[] = [];
  try {
    // The verification's statement reads every event in scope, and a run waiting for another holds its place in the queue.
    await endWithClient(runner, false);
    const existing: { scope: string }[] = handingOver ? await runner.query('SELECT DISTINCT scope FROM audit_checkpoint') : [];
    // Taken in one order by every run that takes more than its own: two runs never wait for each other in a circle.
    const scopes = [...new Set([scope, ...existing.map((row) => row.scope)])].sort();
    // Taken before the transaction's snapshot: a run waited for has written its checkpoint by then.
    for (const each of scopes) {
      await runner.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`audit-checkpoint:${each}`]);
      locked.push(each);
    }
    await runner.startTransaction('REPEATABLE READ');
    try {
      const { checked, broken } = await verifyAuditChain(runner.manager, options.chain);
      const series = await readSeries(runner.manager, scope, keys, options.expect);
      const others: { scope: string; series: Series }[] = [];
      for (const other of scopes.filter((each) => each !== scope)) others.push({ scope: other, series: await readSeries(runner.manager, other, keys) });
      const checkpointsBroken = series.broken ?? others.find((other) => other.series.broken)?.series.broken ?? null;
      let checkpoint: AuditVerification['checkpoint'] = null;
      const handedOver: string[] = [];
      if (!broken && !checkpointsBroken) {
        const heads = await movedHeads(runner.manager, scope, options.chain);
        const written = await writeCheckpoint(runner.manager, keys[0], scope, series.last, heads);
        checkpoint = { scope, position: written.position, digest: written.mac.toString('hex'), verified: series.last?.position ?? 0 };
        for (const other of others.filter((each) => each.series.last && !each.series.newestUnderMasterKey)) {
          // No heads: this run may not have verified the other series' chains, and the checkpoint vouches only for the series.
          await writeCheckpoint(runner.manager, keys[0], other.scope, other.series.last, []);
          handedOver.push(other.scope);
        }
      }
      await runner.commitTransaction();
      return { checked, broken, checkpointsBroken, checkpoint, handedOver };
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    }
  } finally {
    for (const each of locked.reverse()) {
      await runner.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`audit-checkpoint:${each}`]).catch(() => undefined);
    }
    await runner.query('RESET client_connection_check_interval').catch(() => undefined);
    await runner.release();
  }
}

type SeriesEnd = CheckpointLink & { position: number };

interface Series {
  broken: string | null;
  last: SeriesEnd | null;
  /** Whether the newest checkpoint is signed under MASTER_KEY itself, not only under PREVIOUS_MASTER_KEY. */
  newestUnderMasterKey: boolean;
}

/**
 * Checks a series' MACs in order. Checkpoints no configured key signed are accepted only at the
 * start of the series, followed by one that is signed: those were signed under a master key since
 * replaced, and the signed one holds them in place, as its MAC covers their digests and MACs.
 * The newest must always be signed under MASTER_KEY or PREVIOUS_MASTER_KEY.
 */
async function readSeries(db: EntityManager, scope: string, keys: Buffer[], expect?: string): Promise<Series> {
  const rows: { position: string; takenAt: Date; mac: Buffer; heads: Buffer }[] = await db.query(
    `SELECT c.position, c.taken_at AS "takenAt", c.mac,
            (SELECT sha256(convert_to(coalesce(string_agg(format(E'%s %s %s\\n', h.chain, h.seq, encode(h.hash, 'hex')), '' ORDER BY h.chain COLLATE "C"), ''), 'UTF8'))
               FROM audit_checkpoint_head h WHERE h.scope = c.scope AND h.position = c.position) AS heads
     FROM audit_checkpoint c WHERE c.scope = $1 ORDER BY c.position`,
    [scope],
  );
  let last: SeriesEnd | null = null;
  let signedBefore = false;
  let unsignedFrom: number | null = null;
  let underMasterKey = false;
  const altered = (position: number) =>
    `checkpoint ${position} of ${scope} does not match its MAC: it or one before it was altered or removed, or it was signed under neither MASTER_KEY nor PREVIOUS_MASTER_KEY`;
  const end = (broken: string | null): Series => ({ broken, last, newestUnderMasterKey: underMasterKey });
  for (const [i, row] of rows.entries()) {
    const position = Number(row.position);
    if (position !== i + 1) return end(`checkpoint ${i + 1} of ${scope} is missing`);
    const digest = checkpointDigest(last, scope, position, row.takenAt, row.heads);
    const signer = keys.findIndex((key) => macMatches(key, digest, row.mac));
    if (signer !== -1) {
      if (unsignedFrom !== null && signedBefore) return end(altered(unsignedFrom));
      signedBefore = true;
      unsignedFrom = null;
    } else {
      unsignedFrom ??= position;
    }
    underMasterKey = signer === 0;
    last = { position, digest, mac: row.mac };
  }
  if (unsignedFrom !== null) return end(altered(unsignedFrom));
  if (expect !== undefined && !rows.some((row) => row.mac.toString('hex') === expect.toLowerCase())) {
    return end(`no checkpoint of ${scope} has the digest ${expect}: the checkpoints since it was printed were removed, or it belongs to another series`);
  }
  return end(null);
}

/** The heads of the chains in scope that moved since the series last recorded them. */
const movedHeads = (db: EntityManager, scope: string, chain: string | undefined): Promise<CheckpointHead[]> => db.query(
  `SELECT h.chain, h.last_seq::text AS seq, h.last_hash AS hash FROM audit_chain h
   WHERE ($2::text IS NULL OR h.chain = $2) AND h.last_seq > 0
     AND NOT EXISTS (SELECT FROM audit_checkpoint_head p WHERE p.scope = $1 AND p.chain = h.chain AND p.seq = h.last_seq)`,
  [scope, chain ?? null],
);

/** Appends to a series a checkpoint recording these heads, signed under `key`. */
async function writeCheckpoint(db: EntityManager, key: Buffer, scope: string, last: SeriesEnd | null, heads: CheckpointHead[]): Promise<{ position: number; mac: Buffer }> {
  const position = (last?.position ?? 0) + 1;
  const takenAt = new Date();
  const mac = checkpointMac(key, checkpointDigest(last, scope, position, takenAt, headsHash(heads)));
  await db.query('INSERT INTO audit_checkpoint (scope, position, taken_at, mac) VALUES ($1, $2, $3, $4)', [scope, position, takenAt, mac]);
  await db.query(
    `INSERT INTO audit_checkpoint_head (scope, position, chain, seq, hash)
     SELECT $1, $2, h.chain, h.seq, h.hash FROM unnest($3::text[], $4::bigint[], $5::bytea[]) AS h(chain, seq, hash)`,
    [scope, position, heads.map((h) => h.chain), heads.map((h) => h.seq), heads.map((h) => h.hash)],
  );
  return { position, mac };
}

/**
 * Indexes the targets of the events committed since the last call, chain by chain, until none is
 * left; returns how many events it passed. Searches find the events not yet indexed too, by
 * reading them: this only bounds how many they read.
 */
export async function indexAuditTargets(db: DataSource): Promise<number> {
  let passed = 0;
  for (;;) {
    const [{ events }] = await db.query('SELECT audit_index_targets() AS events');
    if (Number(events) === 0) return passed;
    passed += Number(events);
  }
}

/** Moves events older than the retention period to the archive (never drops them). */
export async function archiveAuditEvents(db: EntityManager, cutoff: Date, chain?: string): Promise<number> {
  const [{ moved }] = await db.query('SELECT archive_audit_events($1, $2) AS moved', [cutoff, chain ?? null]);
  return Number(moved);
}

/** A municipality code filter, refused when malformed or not in the national list: it would match no event (nor account). */
export async function checkMunicipalityFilter(ctx: Context, code: string | null | undefined): Promise<string | null> {
  if (code === null || code === undefined) return null;
  const field = ['filter', 'municipalityCode'];
  const checked = checkMunicipalityCode(code);
  if (!checked.ok) throw badArgument(field, checked.message, identifierError(checked.reason));
  if (!(await ctx.loaders.municipality.load(checked.value))) throw badArgument(field, noMunicipalityMessage(checked.value), ErrorCode.UNKNOWN_MUNICIPALITY);
  return checked.value;
}

/**
 * An actor id filter, refused when malformed or no account has it: it would match no event. Accounts
 * are disabled, never deleted, so every actor the log names is still one. Any account counts, not only
 * the reader's municipality's: a site, an integrator or the operator may act on its residents.
 * Security alerts are filtered by account the same way.
 */
export async function checkActorFilter(db: EntityManager, id: string | null | undefined): Promise<string | null> {
  if (id === null || id === undefined) return null;
  const field = ['filter', 'actorId'];
  if (!isUuid(id)) throw badArgument(field, 'must be an account id as the API hands them out', ErrorCode.INVALID_FORMAT);
  const actor = id.toLowerCase();
  const found: unknown[] = await db.query('SELECT FROM account WHERE id = $1', [actor]);
  if (found.length === 0) throw badArgument(field, 'is not an account id: no account has it', ErrorCode.NOT_FOUND);
  return actor;
}

/** Searches the operation log within the reader's scope: own municipality, or all for the operator. */
export async function searchAudit(
  ctx: Context,
  filter: AuditEventFilter,
  first: number,
  after: string | null | undefined,
): Promise<AuditEventConnection> {
  checkPageSize(first, 500);
  if (after != null && !/^\d{1,18}$/.test(after)) {
    throw badCursor();
  }
  const scope = scopeOf(ctx.ability, 'read', 'AuditEvent');
  if (!scope) return { nodes: [], endCursor: null };
  const municipalityCode = await checkMunicipalityFilter(ctx, filter.municipalityCode);
  // Only a reader of every municipality's events (the operator) narrows them to one: for anyone else
  // the filter is not theirs to use, and an empty list would say "nothing happened there".
  if (municipalityCode && !reachesEveryTenant(scope)) throw forbidden();
  if (filter.from && filter.to && filter.to <= filter.from) {
    throw badArgument(['filter', 'to'], filter.to < filter.from ? 'must not be before from' : 'must be after from: it is exclusive, so the same instant matches nothing', ErrorCode.INVALID_DATE);
  }
  const db = await ctx.session.manager();
  const actorId = await checkActorFilter(db, filter.actorId);
  // Ids are stored as PostgreSQL prints UUIDs, in lower case; other targets (`version:2`) as written.
  const targetId = filter.targetId && isUuid(filter.targetId) ? filter.targetId.toLowerCase() : filter.targetId;
  const query = applyScope(db.getRepository(AuditEvent).createQueryBuilder('a'), scope);
  // An event is linked into its chain when its transaction commits; until then it is not listed.
  query.andWhere('a.seq IS NOT NULL');
  if (filter.from) query.andWhere('a.occurredAt >= :from', { from: filter.from });
  if (filter.to) query.andWhere('a.occurredAt < :to', { to: filter.to });
  if (actorId) query.andWhere('a.actorId = :actor', { actor: actorId });
  if (filter.operation) query.andWhere('a.operation = :operation', { operation: filter.operation });
  // The targets' index up to each chain's mark, and the events past it, which the background has yet
  // to index, read chain by chain (OFFSET 0 keeps the planner from making that one scan of the whole
  // log). Their ids are gathered first, then fetched by the primary key.
  if (targetId) {
    query.andWhere(
      `a.id = ANY (ARRAY(
         SELECT t.event_id FROM audit_event_target t WHERE t.target_id = :target
         UNION ALL
         SELECT e.id FROM audit_chain h LEFT JOIN audit_target_mark m ON m.chain = h.chain,
           LATERAL (SELECT e.id, e.target_ids FROM audit_event e WHERE e.chain = h.chain AND e.seq > coalesce(m.seq, 0) OFFSET 0) e
         WHERE h.last_seq > coalesce(m.seq, 0) AND :target = ANY (e.target_ids)))`,
      { target: targetId },
    );
  }
  if (municipalityCode) query.andWhere('a.municipalityCode = :code', { code: municipalityCode });
  // Newest first by time: each search's index ends in (occurred_at, id), so that a window of dates
  // is a range of it and a page the next entries. The cursor is the page's last event, which the
  // reader must be able to see.
  if (after) {
    const seen = await applyScope(db.getRepository(AuditEvent).createQueryBuilder('c'), scope)
      .andWhere('c.id = :after AND c.seq IS NOT NULL', { after }).getExists();
    if (!seen) throw badCursor();
    // Its time read in SQL: a JavaScript date would cut the microseconds and skip events.
    query.andWhere('(a.occurredAt, a.id) < ((SELECT c.occurred_at FROM audit_event c WHERE c.id = :after), CAST(:after AS bigint))', { after });
  }
  // One more than the page, to tell whether another follows.
  return pageOf(await query.orderBy('a.occurredAt', 'DESC').addOrderBy('a.id', 'DESC').limit(first + 1).getMany(), first, (last) => last.id);
}
