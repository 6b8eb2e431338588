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
  @Field(() => ID, { description: 'The event\'s id.' })
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  @Field({ description: 'When it happened (ISO 8601, UTC).' })
  occurredAt: Date;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'The request it belongs to: the events of one request share it.' })
  requestId: string | null;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  @Field(() => String, { nullable: true, description: 'The account that acted; null for a login attempt and the command line.' })
  actorId: string | null;

  @Column({ type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'The acting account\'s role; null when none.' })
  role: string | null;

  @Column({ type: 'text' })
  @Field({ description: 'INTERNET or LGWAN for API requests; CLI for the command line.' })
  channel: string;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true, description: 'The municipality whose log holds the event; null for events of no municipality.' })
  municipalityCode: string | null;

  @Column({ type: 'text' })
  @Field({ description: 'What was done, e.g. "resident.update", "vaccination.register", "login".' })
  operation: string;

  @Column({ name: 'target_ids', type: 'text', array: true })
  // Up to a thousand ids an event (AUDIT_BATCH), 40 kB: weighed as 20 fields by the cost limit, so
  // that a request reads about a page of 500 events with them, not ten (200 MB to answer).
  @Field(() => [String], { complexity: 20, description: 'The ids of the rows it concerned; never personal data.' })
  targetIds: string[];

  @Column({ type: 'text' })
  @Field(() => String, { description: 'SUCCESS, FAILURE (refused input, or a row not found) or DENIED (refused access or a locked account).' })
  outcome: AuditOutcome;

  @Column({ type: 'text', insert: false, update: false })
  chain: string;

  @Column({ type: 'bigint', insert: false, update: false })
  @Field(() => String, { description: 'Position in its municipality\'s hash chain.' })
  seq: string;
}
