import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { PendingDose } from '../entities/pending-dose.entity';
import { VaccinationRecord } from '../entities/vaccination-record.entity';
import { UserError } from '../errors';

@InputType({ description: 'A dose entered by a municipality officer from a paper form.' })
export class RecordDoseInput {
  @Field(() => ID) residentId: string;
  @Field(() => Int) doseNumber: number;
  @Field() vaccinatedOn: string;
  @Field() vaccineCode: string;
  @Field() lotNumber: string;
  @Field({ nullable: true, description: '接種地; defaults to the officer\'s own municipality. A ward is recorded as its designated city.' }) siteMunicipalityCode?: string;
  @Field(() => String, { nullable: true, description: '接種会場: the venue (1–100 characters).' }) venue?: string | null;
  @Field(() => String, { nullable: true, description: '医師名: the doctor who gave the dose (1–50 characters).' }) doctorName?: string | null;
  @Field(() => String, {
    nullable: true,
    description: '接種券番号: the resident\'s ticket the dose was given on (10 digits); its series must cover the dose; a void ticket, a dose given no later than the day it was voided.',
  }) ticketNumber?: string | null;
}

@InputType({ description: 'Fields to correct; omitted fields keep their value. The old record is kept as SUPERSEDED.' })
export class CorrectRecordInput {
  @Field({ nullable: true }) vaccinatedOn?: string;
  @Field({ nullable: true }) vaccineCode?: string;
  @Field({ nullable: true }) lotNumber?: string;
  @Field(() => String, { nullable: true, description: 'The venue (1–100 characters); an empty string removes it.' }) venue?: string | null;
  @Field(() => String, { nullable: true, description: 'The doctor (1–50 characters); an empty string removes it.' }) doctorName?: string | null;
  @Field() reason: string;
}

@ObjectType()
export class VaccinationRecordPayload {
  @Field(() => VaccinationRecord, { nullable: true }) record?: VaccinationRecord | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

@ObjectType()
export class PendingDosePayload {
  @Field(() => PendingDose, { nullable: true }) pendingDose?: PendingDose | null;
  @Field(() => [UserError]) userErrors: UserError[];
}
