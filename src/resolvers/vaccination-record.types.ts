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
  @Field({ nullable: true, description: '接種地; defaults to the officer\'s own municipality.' }) siteMunicipalityCode?: string;
}

@InputType({ description: 'Fields to correct; omitted fields keep their value. The old record is kept as SUPERSEDED.' })
export class CorrectRecordInput {
  @Field({ nullable: true }) vaccinatedOn?: string;
  @Field({ nullable: true }) vaccineCode?: string;
  @Field({ nullable: true }) lotNumber?: string;
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
