import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export enum PendingDoseStatus {
  PENDING = 'PENDING',
  MATCHED = 'MATCHED',
  DISMISSED = 'DISMISSED',
}
registerEnumType(PendingDoseStatus, {
  name: 'PendingDoseStatus',
  description: 'Where a pending dose (接種対象者登録待ち) stands.',
  valuesConfig: {
    PENDING: { description: 'Waiting for its ticket to be registered, or for the municipality to resolve it.' },
    MATCHED: { description: 'Recorded: a ticket issuance or assignPendingDose made it a vaccination record (vaccinationRecordId).' },
    DISMISSED: { description: 'Set aside by an officer with dismissPendingDose (resolutionReason); no record was made.' },
  },
});

/**
 * A dose a site registered on a ticket its municipality has not registered yet
 * (接種対象者登録待ち). Kept in the issuing municipality's tenant, matched when the ticket is
 * issued, or resolved by the municipality.
 */
@Entity('pending_dose')
@ObjectType({ description: 'A dose waiting for its ticket to be registered (接種対象者登録待ち).' })
export class PendingDose {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  @Field({ description: 'The municipality that issued the ticket.' })
  municipalityCode: string;

  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID, { description: 'The pending dose\'s id.' })
  id: string;

  @Column({ name: 'ticket_number', type: 'char', length: 10 })
  @Field({ description: '接種券番号: the 10-digit number the site gave.' })
  ticketNumber: string;

  @Column({ name: 'dose_number', type: 'smallint' })
  @Field(() => Int, { description: 'The dose number the site gave.' })
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
  @Field({ description: 'ロット番号: the vaccine lot number, as checked (upper-case).' })
  lotNumber: string;

  @Column({ name: 'site_municipality_code', type: 'char', length: 6 })
  @Field({ description: '接種地: the municipality of the site that gave the dose.' })
  siteMunicipalityCode: string;

  @Column({ type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: '接種会場: the venue, as the tablet or officer gave it.' })
  venue: string | null;

  @Column({ name: 'doctor_name', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: '医師名: the doctor who gave the dose, as the tablet or officer gave it.' })
  doctorName: string | null;

  @Column({ name: 'recorded_by', type: 'uuid' })
  recordedBy: string;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  @Column({ type: 'text' })
  @Field(() => PendingDoseStatus, { description: 'PENDING, MATCHED or DISMISSED.' })
  status: PendingDoseStatus;

  @Column({ name: 'match_problem', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'Why the last automatic match did not succeed, if it was tried.' })
  matchProblem: string | null;

  @Column({ name: 'vaccination_record_id', type: 'uuid', nullable: true })
  @Field(() => ID, { nullable: true, description: 'The record it became, once MATCHED; null otherwise.' })
  vaccinationRecordId: string | null;

  @Column({ name: 'resolved_at', type: 'timestamptz', nullable: true })
  @Field(() => Date, { nullable: true, description: 'When it was matched or dismissed (ISO 8601, UTC); null while PENDING.' })
  resolvedAt: Date | null;

  @Column({ name: 'resolved_by', type: 'uuid', nullable: true })
  resolvedBy: string | null;

  @Column({ name: 'resolution_reason', type: 'text', nullable: true })
  @Field(() => String, { nullable: true, description: 'Why it was dismissed; null otherwise.' })
  resolutionReason: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  @Field({ description: 'When the site filed it (ISO 8601, UTC).' })
  createdAt: Date;
}
