import { Column, Entity, PrimaryColumn } from 'typeorm';

export type AuditOutcome = 'SUCCESS' | 'DENIED' | 'FAILURE';

/** One line of the operation log. Holds ids and operation names only, never personal data. */
@Entity('audit_event')
export class AuditEvent {
  @PrimaryColumn({ type: 'bigint', generated: 'identity' })
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId: string | null;

  @Column({ type: 'text', nullable: true })
  role: string | null;

  @Column({ type: 'text' })
  channel: string;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  municipalityCode: string | null;

  @Column({ type: 'text' })
  operation: string;

  @Column({ name: 'target_ids', type: 'text', array: true })
  targetIds: string[];

  @Column({ type: 'text' })
  outcome: AuditOutcome;
}
