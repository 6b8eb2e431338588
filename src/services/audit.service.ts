import { Actor } from '../auth/actor';
import { AuditOutcome } from '../entities/audit-event.entity';

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

/** Writes operation-log lines. Values of personal data never enter them: ids and names of operations only. */
export async function writeAudit(db: Queryable, source: AuditSource, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO audit_event (request_id, actor_id, role, channel, municipality_code, operation, target_ids, outcome)
     SELECT $1, $2, $3, $4, e.municipality_code, e.operation, ARRAY(SELECT jsonb_array_elements_text(e.target_ids)), e.outcome
     FROM jsonb_to_recordset($5::jsonb) AS e(municipality_code text, operation text, target_ids jsonb, outcome text)`,
    [
      source.requestId,
      source.actor?.accountId ?? null,
      source.actor?.role ?? null,
      source.channel,
      JSON.stringify(entries.map((e) => ({ municipality_code: e.municipalityCode, operation: e.operation, target_ids: e.targetIds, outcome: e.outcome }))),
    ],
  );
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

  async flush(db: Queryable, source: AuditSource): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await writeAudit(db, source, entries);
  }
}
