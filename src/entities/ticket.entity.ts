import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A vaccination ticket (接種券): 10-digit number unique within its municipality. */
@Entity('ticket')
@ObjectType({ description: 'A vaccination ticket (接種券).' })
export class Ticket {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  @Field({ description: 'The issuing municipality (6 digits).' })
  municipalityCode: string;

  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID, { description: 'The ticket\'s id.' })
  id: string;

  @Column({ name: 'resident_id', type: 'uuid' })
  @Field(() => ID, { description: 'The resident it was issued to.' })
  residentId: string;

  @Column({ name: 'ticket_number', type: 'char', length: 10 })
  @Field({ description: '接種券番号: 10 digits, unique within the municipality.' })
  ticketNumber: string;

  @Column({ type: 'text' })
  @Field({ description: 'Campaign series the ticket was issued for, e.g. "1-2" or "3".' })
  series: string;

  @Column({ name: 'issued_on', type: 'date' })
  @Field({ description: 'Date of issue, ISO 8601 (YYYY-MM-DD).' })
  issuedOn: string;

  @Column({ name: 'voided_on', type: 'date', nullable: true })
  @Field(() => String, { nullable: true, description: 'Date voided, ISO 8601 (YYYY-MM-DD, JST); null while the ticket is open.' })
  voidedOn: string | null;

  @Column({ name: 'void_reason', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'Why it was voided; null while open.' })
  voidReason: string | null;
}

