import { EntityManager } from 'typeorm';
import { Actor } from '../auth/actor';
import type { Context } from '../context';
import { AuditEvent, AuditOutcome } from '../entities/audit-event.entity';
import { applyScope, scopeOf } from '../policies/scope';
import { AuditEventConnection, AuditEventFilter } from '../resolvers/audit.types';
import { badCursor, checkPageSize } from '../errors';

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

/** Writes operation-log lines. Values of personal data never enter them: ids and names of operations only. */
export async function writeAudit(db: Queryable, source: AuditSource, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO audit_event (request_id, actor_id, role, channel, municipality_code, operation, target_ids, outcome)
     SELECT $1, $2, $3, $4, e.municipality_code, e.operation, ARRAY(SELECT jsonb_array_elements_text(e.target_ids)), e.outcome
     FROM jsonb_to_recordset($5::jsonb) AS e(municipality_code text, operation text, target_ids jsonb, outcome text)`,
    [
      ...auditSourceParams(source),
      JSON.stringify(entries.map((e) => ({ municipality_code: e.municipalityCode, operation: e.operation, target_ids: e.targetIds, outcome: e.outcome }))),
    ],
  );
}

/**
 * The statement, to put in a CTE of a bulk change, that logs every id the change wrote, up to
 * AUDIT_BATCH an event: `changes` selects (operation, id); each event names `first` (a text
 * array) and then its ids. `source` names the four placeholders of auditSourceParams.
 */
export function loggedInBatches(changes: string, municipality: string, first: string, source: string): string {
  return `INSERT INTO audit_event (request_id, actor_id, role, channel, municipality_code, operation, target_ids, outcome)
    SELECT ${source}, ${municipality}, x.operation, ${first} || array_agg(x.id::text), 'SUCCESS'
    FROM (SELECT operation, id, (row_number() OVER (PARTITION BY operation) - 1) / ${AUDIT_BATCH} AS batch FROM (${changes}) c) x
    GROUP BY x.operation, x.batch`;
}

/**
 * Reads of personal data noted during a request, written in one statement when the response is
 * sent. Changes are written inside their own transaction instead, so they commit together.
 */
export class ReadAudit {
  private readonly entries = new Map<string, AuditEntry>();

  note(operation: string, municipalityCode: string, targetId: string): void {
    const key = `${operation}|${municipalityCode}`;
    const entry = this.entries.get(key) ?? { operation, municipalityCode, targetIds: [], outcome: 'SUCCESS' as const };
    if (!entry.targetIds.includes(targetId)) entry.targetIds.push(targetId);
    this.entries.set(key, entry);
  }

  get isEmpty(): boolean {
    return this.entries.size === 0;
  }

  async flush(db: Queryable, source: AuditSource): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await writeAudit(db, source, entries);
  }
}

export interface ChainBreak {
  /** The event where the chain breaks; null when none of the chain's events is left. */
  id: string | null;
  chain: string;
  seq: string;
  reason: string;
}

/**
 * Recomputes every event's hash and link, live and archived, and compares each chain's last event
 * with its head in audit_chain, so that events cut from the end of a chain are noticed as well as
 * a gap. Returns the first event whose content, link, sequence or end does not match (by chain,
 * then sequence), or null when intact. One statement: the heads and the events are read at the
 * same instant, and an event and its head advance in the same commit.
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
     ), breaks AS (
       SELECT chain, seq, 0 AS rank, id, reason FROM judged WHERE reason IS NOT NULL
       UNION ALL
       SELECT chain, seq, 1, id, reason FROM heads WHERE reason IS NOT NULL
     )
     SELECT (SELECT count(*) FROM judged)::int AS checked,
            (SELECT json_build_object('id', id::text, 'chain', chain, 'seq', seq::text, 'reason', reason)
               FROM breaks ORDER BY chain, seq, rank LIMIT 1) AS broken`,
    [chain ?? null],
  );
  return { checked: result.checked, broken: result.broken };
}

/** Moves events older than the retention period to the archive (never drops them). */
export async function archiveAuditEvents(db: EntityManager, cutoff: Date, chain?: string): Promise<number> {
  const [{ moved }] = await db.query('SELECT archive_audit_events($1, $2) AS moved', [cutoff, chain ?? null]);
  return Number(moved);
}

/** Searches the operation log within the reader's scope: own municipality, or all for the operator. */
export async function searchAudit(
  ctx: Context,
  filter: AuditEventFilter,
  first: number,
  after: string | null | undefined,
): Promise<AuditEventConnection> {
  checkPageSize(first, 500);
  if (after && !/^\d{1,18}$/.test(after)) {
    throw badCursor();
  }
  const scope = scopeOf(ctx.ability, 'read', 'AuditEvent');
  if (!scope) return { nodes: [], endCursor: null };
  const query = applyScope((await ctx.session.manager()).getRepository(AuditEvent).createQueryBuilder('a'), scope);
  // An event is linked into its chain when its transaction commits; until then it is not listed.
  query.andWhere('a.seq IS NOT NULL');
  if (filter.from) query.andWhere('a.occurredAt >= :from', { from: filter.from });
  if (filter.to) query.andWhere('a.occurredAt < :to', { to: filter.to });
  if (filter.actorId) query.andWhere('a.actor_id::text = :actor', { actor: filter.actorId });
  if (filter.operation) query.andWhere('a.operation = :operation', { operation: filter.operation });
  if (filter.targetId) query.andWhere(':target = ANY(a.target_ids)', { target: filter.targetId });
  if (filter.municipalityCode) query.andWhere('a.municipalityCode = :code', { code: filter.municipalityCode });
  if (after) query.andWhere('a.id < :after', { after });
  const nodes = await query.orderBy('a.id', 'DESC').limit(first).getMany();
  return { nodes, endCursor: nodes.length === first ? nodes[nodes.length - 1].id : null };
}
