import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export type AuditOutcome = 'SUCCESS' | 'DENIED' | 'FAILURE';

/**
 * One line of the operation log. Holds ids and operation names only, never personal data.
 * Append-only and hash-chained per municipality (see the security migration).
 */
@Entity('audit_event')
@ObjectType({ description: 'One operation-log event: who did what to which ids, never personal data.' })
export class AuditEvent {
  @PrimaryColumn({ type: 'bigint', generated: 'identity' })
  @Field(() => ID)
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  @Field()
  occurredAt: Date;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  @Field(() => String, { nullable: true })
  requestId: string | null;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  @Field(() => String, { nullable: true })
  actorId: string | null;

  @Column({ type: 'text', nullable: true })
  @Field(() => String, { nullable: true })
  role: string | null;

  @Column({ type: 'text' })
  @Field()
  channel: string;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true })
  municipalityCode: string | null;

  @Column({ type: 'text' })
  @Field()
  operation: string;

  @Column({ name: 'target_ids', type: 'text', array: true })
  @Field(() => [String])
  targetIds: string[];

  @Column({ type: 'text' })
  @Field(() => String)
  outcome: AuditOutcome;

  @Column({ type: 'text', insert: false, update: false })
  chain: string;

  @Column({ type: 'bigint', insert: false, update: false })
  @Field(() => String, { description: 'Position in its municipality\'s hash chain.' })
  seq: string;
}
