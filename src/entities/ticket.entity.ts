import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A vaccination ticket (接種券): 10-digit number unique within its municipality. */
@Entity('ticket')
@ObjectType({ description: 'A vaccination ticket (接種券).' })
export class Ticket {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  @Field()
  municipalityCode: string;

  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID)
  id: string;

  @Column({ name: 'resident_id', type: 'uuid' })
  @Field(() => ID)
  residentId: string;

  @Column({ name: 'ticket_number', type: 'char', length: 10 })
  @Field()
  ticketNumber: string;

  @Column({ type: 'text' })
  @Field({ description: 'Campaign series the ticket was issued for, e.g. "1-2" or "3".' })
  series: string;

  @Column({ name: 'issued_on', type: 'date' })
  @Field()
  issuedOn: string;

  @Column({ name: 'voided_on', type: 'date', nullable: true })
  @Field(() => String, { nullable: true })
  voidedOn: string | null;

  @Column({ name: 'void_reason', type: 'text', nullable: true })
  @Field(() => String, { nullable: true })
  voidReason: string | null;
}

