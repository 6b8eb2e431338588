import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export type RecordSource = 'TABLET' | 'OFFICER' | 'CSV' | 'INQUIRY';
export type RecordStatus = 'COMPLETED' | 'ENTERED_IN_ERROR' | 'SUPERSEDED';

/**
 * A dose given (接種記録). Kept in the resident's municipality even when another municipality's
 * site gave it; corrections supersede or mark entered-in-error, never overwrite.
 */
@Entity('vaccination_record')
@ObjectType({ description: 'A vaccination record (接種記録).' })
export class VaccinationRecord {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  @Field({ description: 'The municipality that keeps the record: the resident\'s (the ticket\'s).' })
  municipalityCode: string;

  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID, { description: 'The record\'s id.' })
  id: string;

  @Column({ name: 'resident_id', type: 'uuid' })
  @Field(() => ID, { description: 'The resident vaccinated.' })
  residentId: string;

  @Column({ name: 'ticket_id', type: 'uuid', nullable: true })
  ticketId: string | null;

  @Column({ name: 'dose_number', type: 'smallint' })
  @Field(() => Int, { description: 'Which dose, 1 to 20.' })
  doseNumber: number;

  @Column({ name: 'vaccinated_on', type: 'date' })
  @Field({ description: 'Date given, ISO 8601 (YYYY-MM-DD).' })
  vaccinatedOn: string;

  @Column({ name: 'vaccine_code', type: 'text' })
  @Field({ description: 'The vaccine\'s code in the vaccines catalogue.' })
  vaccineCode: string;

  @Column({ type: 'text' })
  @Field({ description: 'The vaccine\'s manufacturer.' })
  manufacturer: string;

  @Column({ type: 'text' })
  @Field({ description: 'The vaccine\'s product name.' })
  product: string;

  @Column({ name: 'lot_number', type: 'text' })
  @Field({ description: 'ロット番号: the vaccine lot number.' })
  lotNumber: string;

  @Column({ name: 'site_municipality_code', type: 'char', length: 6 })
  @Field({ description: '接種地: municipality where the dose was given.' })
  siteMunicipalityCode: string;

  @Column({ type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: '接種会場: the venue, as the tablet or officer gave it.' })
  venue: string | null;

  @Column({ name: 'doctor_name', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: '医師名: the doctor who gave the dose, as the tablet or officer gave it.' })
  doctorName: string | null;

  @Column({ type: 'text' })
  @Field(() => String, { description: 'How it was entered: TABLET, OFFICER, CSV or INQUIRY.' })
  source: RecordSource;

  @Column({ type: 'text' })
  @Field(() => String, { description: 'COMPLETED (current), SUPERSEDED (replaced by a correction, see supersededBy) or ENTERED_IN_ERROR (deleted).' })
  status: RecordStatus;

  @Column({ name: 'status_reason', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'Why it was corrected or deleted; null while COMPLETED.' })
  statusReason: string | null;

  @Column({ name: 'status_changed_at', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true, description: 'When it was corrected or deleted (ISO 8601, UTC); null while COMPLETED.' })
  statusChangedAt: Date | null;

  @Column({ name: 'status_changed_by', type: 'uuid', nullable: true })
  @Field(() => ID, { nullable: true, description: 'Account of the officer who corrected or deleted the record.' })
  statusChangedBy: string | null;

  @Column({ name: 'superseded_by', type: 'uuid', nullable: true })
  @Field(() => ID, { nullable: true, description: 'The record that replaced this one (status SUPERSEDED).' })
  supersededBy: string | null;

  @Column({ name: 'recorded_by', type: 'uuid', nullable: true })
  @Field(() => ID, { nullable: true, description: 'Account that entered the record (tablet or officer).' })
  recordedBy: string | null;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  @Field({ description: 'When it was written (ISO 8601, UTC).' })
  createdAt: Date;
}
