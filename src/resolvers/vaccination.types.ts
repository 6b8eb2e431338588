import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../errors';

/*
 * What a vaccination-site tablet sends and gets back. None of these types has a field for a
 * name, birth date, address or My Number: the tablet cannot ask for what is not there.
 */

export enum TicketScanStatus {
  VALID = 'VALID',
  NOT_REGISTERED = 'NOT_REGISTERED',
  VOID = 'VOID',
  RESIDENT_MOVED_OUT = 'RESIDENT_MOVED_OUT',
  RESIDENT_DECEASED = 'RESIDENT_DECEASED',
  SERIES_COMPLETED = 'SERIES_COMPLETED',
  NOT_IN_SERIES = 'NOT_IN_SERIES',
}
registerEnumType(TicketScanStatus, { name: 'TicketScanStatus' });

export enum RegistrationStatus {
  RECORDED = 'RECORDED',
  PENDING_REGISTRATION = 'PENDING_REGISTRATION',
}
registerEnumType(RegistrationStatus, { name: 'RegistrationStatus', description: 'PENDING_REGISTRATION: 接種対象者登録待ち.' });

@InputType({ description: 'The ticket as read by the tablet: the 18-digit OCR line, or municipality code and ticket number.' })
export class TicketReference {
  @Field({ nullable: true, description: 'Ticket type (1) + dose number (1) + municipality code (6) + ticket number (10).' }) ocrLine?: string;
  @Field({ nullable: true }) municipalityCode?: string;
  @Field({ nullable: true }) ticketNumber?: string;
}

@ObjectType({ description: 'A dose on record, as a site may see it: number, date and manufacturer only.' })
export class DoseSummary {
  @Field(() => Int) doseNumber: number;
  @Field() vaccinatedOn: string;
  @Field() manufacturer: string;
}

@ObjectType({ description: 'What a site learns from scanning a ticket. Nothing that identifies the person.' })
export class TicketScan {
  @Field(() => TicketScanStatus) status: TicketScanStatus;
  @Field({ description: 'Why the ticket is or is not usable, for the site staff.' }) message: string;
  @Field() municipalityCode: string;
  @Field() ticketNumber: string;
  @Field(() => String, { nullable: true }) series: string | null;
  @Field(() => Int, { nullable: true, description: 'The dose number to register next.' }) nextDoseNumber: number | null;
  @Field(() => [DoseSummary]) doses: DoseSummary[];
}

@InputType()
export class RegisterDoseInput {
  @Field(() => TicketReference) ticket: TicketReference;
  @Field(() => Int) doseNumber: number;
  @Field({ description: 'ISO 8601 date.' }) vaccinatedOn: string;
  @Field({ description: 'A code from the `vaccines` catalogue.' }) vaccineCode: string;
  @Field() lotNumber: string;
  @Field(() => String, { nullable: true, description: '接種会場: the venue (1–100 characters).' }) venue?: string | null;
  @Field(() => String, { nullable: true, description: '医師名: the doctor who gave the dose (1–50 characters).' }) doctorName?: string | null;
  @Field({ description: 'Chosen by the tablet per dose (8–100 of A-Z a-z 0-9 . _ : -); a retry with the same key returns the first result.' })
  idempotencyKey: string;
}

@ObjectType({ description: 'A site\'s receipt for one registration.' })
export class DoseReceipt {
  @Field(() => ID) id: string;
  @Field(() => RegistrationStatus) status: RegistrationStatus;
  @Field() message: string;
  @Field({ description: 'The municipality that issued the ticket, where the record is kept.' }) municipalityCode: string;
  @Field() ticketNumber: string;
  @Field(() => Int) doseNumber: number;
  @Field() vaccinatedOn: string;
  @Field() vaccineCode: string;
  @Field() manufacturer: string;
  @Field() product: string;
  @Field() lotNumber: string;
  @Field() siteMunicipalityCode: string;
  @Field(() => String, { nullable: true }) venue: string | null;
  @Field(() => String, { nullable: true }) doctorName: string | null;
  @Field() registeredAt: Date;
}

@ObjectType()
export class RegisterDosePayload {
  @Field(() => DoseReceipt, { nullable: true }) receipt?: DoseReceipt | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

@ObjectType({ description: 'A product of the vaccine catalogue.' })
export class VaccineProduct {
  @Field() code: string;
  @Field() manufacturer: string;
  @Field() product: string;
  @Field() productJa: string;
}
