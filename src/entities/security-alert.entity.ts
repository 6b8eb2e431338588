import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export const ALERT_KINDS = ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING', 'TICKET_SCAN_SWEEP', 'ELIGIBILITY_MISSES', 'MY_NUMBER_SWEEP'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

@Entity('security_alert')
@ObjectType({ description: 'Something intrusion detection noticed. Holds ids and counts, never personal data.' })
export class SecurityAlert {
  @PrimaryColumn({ type: 'bigint', generated: 'identity' })
  @Field(() => ID, { description: 'The alert\'s id; pass the last one as `after` for the next page.' })
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz', insert: false })
  @Field({ description: 'When it was raised (ISO 8601, UTC).' })
  occurredAt: Date;

  @Column({ type: 'text' })
  @Field(() => String, { description: `One of ${ALERT_KINDS.join(', ')}.` })
  kind: AlertKind;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  @Field(() => String, { nullable: true, description: 'The account concerned; null when none (a throttled address).' })
  actorId: string | null;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true, description: 'The municipality concerned (the account\'s, or the ticket\'s for eligibility); null when none.' })
  municipalityCode: string | null;

  @Column({ name: 'source_address', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'The client\'s IP address, as the server saw it (see TRUSTED_PROXIES); null if unknown.' })
  sourceAddress: string | null;

  @Column({ type: 'text' })
  @Field({ description: 'What was seen, in plain English: counts, window and ids, never personal data.' })
  detail: string;
}
