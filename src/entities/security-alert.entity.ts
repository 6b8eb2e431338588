import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export const ALERT_KINDS = ['ACCOUNT_LOCKED', 'LOGIN_THROTTLED', 'REPEATED_DENIALS', 'UNKNOWN_TICKET_SCANS', 'ELIGIBILITY_GUESSING', 'TICKET_SCAN_SWEEP', 'ELIGIBILITY_MISSES'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

@Entity('security_alert')
@ObjectType({ description: 'Something intrusion detection noticed. Holds ids and counts, never personal data.' })
export class SecurityAlert {
  @PrimaryColumn({ type: 'bigint', generated: 'identity' })
  @Field(() => ID)
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz', insert: false })
  @Field()
  occurredAt: Date;

  @Column({ type: 'text' })
  @Field(() => String, { description: `One of ${ALERT_KINDS.join(', ')}.` })
  kind: AlertKind;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  @Field(() => String, { nullable: true })
  actorId: string | null;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true })
  municipalityCode: string | null;

  @Column({ name: 'source_address', type: 'text', nullable: true })
  @Field(() => String, { nullable: true })
  sourceAddress: string | null;

  @Column({ type: 'text' })
  @Field()
  detail: string;
}
