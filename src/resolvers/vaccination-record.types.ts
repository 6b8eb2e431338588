import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { PendingDose } from '../entities/pending-dose.entity';
import { VaccinationRecord } from '../entities/vaccination-record.entity';
import { UserError } from '../errors';
import { payloadDescriptions } from './payload';

@InputType({ description: 'A dose entered by a municipality officer from a paper form.' })
export class RecordDoseInput {
  @Field(() => ID, { description: 'A resident of the officer\'s municipality.' }) residentId: string;
  @Field(() => Int, { description: 'Which dose, 1 to 20: the resident\'s next one.' }) doseNumber: number;
  @Field({ description: 'Date given, ISO 8601 (YYYY-MM-DD); not in the future (JST), not before 2021-02-17.' }) vaccinatedOn: string;
  @Field({ description: 'A code from the `vaccines` catalogue.' }) vaccineCode: string;
  @Field({ description: 'ロット番号: 1 to 20 letters, digits or hyphens, as printed on the vial; stored upper-case.' }) lotNumber: string;
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
  @Field({ nullable: true, description: 'Date given, ISO 8601 (YYYY-MM-DD); held to the same rules as an entry.' }) vaccinatedOn?: string;
  @Field({ nullable: true, description: 'A code from the `vaccines` catalogue.' }) vaccineCode?: string;
  @Field({ nullable: true, description: 'ロット番号: 1 to 20 letters, digits or hyphens, as printed on the vial; stored upper-case.' }) lotNumber?: string;
  @Field(() => String, { nullable: true, description: 'The venue (1–100 characters); an empty string removes it.' }) venue?: string | null;
  @Field(() => String, { nullable: true, description: 'The doctor (1–50 characters); an empty string removes it.' }) doctorName?: string | null;
  @Field({ description: 'Why, up to 500 characters; kept on the old record as statusReason.' }) reason: string;
}

@ObjectType({ description: 'The record written (a correction: the new one; a deletion: the one marked ENTERED_IN_ERROR), or why not.' })
export class VaccinationRecordPayload {
  @Field(() => VaccinationRecord, { nullable: true, description: payloadDescriptions.data }) record?: VaccinationRecord | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

@ObjectType({ description: 'The pending dose as resolved, or why not.' })
export class PendingDosePayload {
  @Field(() => PendingDose, { nullable: true, description: payloadDescriptions.data }) pendingDose?: PendingDose | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}
