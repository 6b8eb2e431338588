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
registerEnumType(TicketScanStatus, {
  name: 'TicketScanStatus',
  description: 'Whether a scanned ticket can take a dose now. message says the same for the site staff.',
  valuesConfig: {
    VALID: { description: 'Register dose nextDoseNumber.' },
    NOT_REGISTERED: { description: 'Its municipality has not registered the ticket yet: a dose registered now is kept pending registration (接種対象者登録待ち).' },
    VOID: { description: 'The ticket was voided.' },
    RESIDENT_MOVED_OUT: { description: 'The holder moved out of the issuing municipality: the ticket can no longer be used.' },
    RESIDENT_DECEASED: { description: 'The holder is recorded as deceased: check the ticket.' },
    SERIES_COMPLETED: { description: 'Every dose of the ticket\'s series is recorded.' },
    NOT_IN_SERIES: { description: 'The holder\'s next dose comes before the ticket\'s series.' },
  },
});

export enum RegistrationStatus {
  RECORDED = 'RECORDED',
  PENDING_REGISTRATION = 'PENDING_REGISTRATION',
}
registerEnumType(RegistrationStatus, {
  name: 'RegistrationStatus',
  description: 'PENDING_REGISTRATION: 接種対象者登録待ち.',
  valuesConfig: {
    RECORDED: { description: 'The dose is a vaccination record of the ticket\'s municipality.' },
    PENDING_REGISTRATION: { description: 'The ticket is not registered (or the dose did not match when it was): the dose is kept pending for its municipality.' },
  },
});

@InputType({ description: 'The ticket as read by the tablet: the 18-digit OCR line, or municipality code and ticket number.' })
export class TicketReference {
  @Field({ nullable: true, description: 'Ticket type (1) + dose number (1) + municipality code (6) + ticket number (10).' }) ocrLine?: string;
  @Field({ nullable: true, description: 'The issuing municipality\'s 6-digit code (with check digit); give it with ticketNumber, instead of ocrLine.' }) municipalityCode?: string;
  @Field({ nullable: true, description: '接種券番号: 10 digits; give it with municipalityCode, instead of ocrLine.' }) ticketNumber?: string;
}

@ObjectType({ description: 'A dose on record, as a site may see it: number, date and manufacturer only.' })
export class DoseSummary {
  @Field(() => Int, { description: 'Which dose (1 for the first).' }) doseNumber: number;
  @Field({ description: 'Date given, ISO 8601 (YYYY-MM-DD).' }) vaccinatedOn: string;
  @Field({ description: 'The vaccine\'s manufacturer, as in the vaccines catalogue.' }) manufacturer: string;
}

@ObjectType({ description: 'What a site learns from scanning a ticket. Nothing that identifies the person.' })
export class TicketScan {
  @Field(() => TicketScanStatus, { description: 'Whether a dose can be registered on the ticket now.' }) status: TicketScanStatus;
  @Field({ description: 'Why the ticket is or is not usable, for the site staff.' }) message: string;
  @Field({ description: 'The issuing municipality\'s 6-digit code, as scanned.' }) municipalityCode: string;
  @Field({ description: '接種券番号: the 10-digit ticket number, as scanned.' }) ticketNumber: string;
  @Field(() => String, { nullable: true, description: 'The doses the ticket covers, e.g. "1-2" or "3"; null when NOT_REGISTERED.' }) series: string | null;
  @Field(() => Int, { nullable: true, description: 'The dose number to register next; null unless VALID.' }) nextDoseNumber: number | null;
  @Field(() => [DoseSummary], { description: 'The holder\'s doses on record; empty when NOT_REGISTERED.' }) doses: DoseSummary[];
}

@InputType({ description: 'One dose given at a site, on the ticket scanned.' })
export class RegisterDoseInput {
  @Field(() => TicketReference, { description: 'The ticket the dose was given on.' }) ticket: TicketReference;
  @Field(() => Int, { description: 'Which dose, 1 to 20: the holder\'s next one, within the ticket\'s series.' }) doseNumber: number;
  @Field({ description: 'Date given, ISO 8601 (YYYY-MM-DD); not in the future (Japan time), not before 2021-02-17.' }) vaccinatedOn: string;
  @Field({ description: 'A code from the `vaccines` catalogue.' }) vaccineCode: string;
  @Field({ description: 'ロット番号: 1 to 20 letters, digits or hyphens, as printed on the vial; stored upper-case.' }) lotNumber: string;
  @Field(() => String, { nullable: true, description: '接種会場: the venue (1–100 characters).' }) venue?: string | null;
  @Field(() => String, { nullable: true, description: '医師名: the doctor who gave the dose (1–50 characters).' }) doctorName?: string | null;
  @Field({ description: 'Chosen by the tablet per dose (8–100 of A-Z a-z 0-9 . _ : -); a retry with the same key returns the first result.' })
  idempotencyKey: string;
}

@ObjectType({ description: 'A site\'s receipt for one registration. Readable only by the tablet account that registered the dose.' })
export class DoseReceipt {
  @Field(() => ID, { description: 'The receipt\'s id, for doseReceipt.' }) id: string;
  @Field(() => RegistrationStatus, { description: 'Recorded, or kept pending registration.' }) status: RegistrationStatus;
  @Field({ description: 'What happened, in plain English for the site staff.' }) message: string;
  @Field({ description: 'The municipality that issued the ticket, where the record is kept.' }) municipalityCode: string;
  @Field({ description: '接種券番号: the 10-digit ticket number.' }) ticketNumber: string;
  @Field(() => Int, { description: 'The dose number registered.' }) doseNumber: number;
  @Field({ description: 'Date given, ISO 8601 (YYYY-MM-DD).' }) vaccinatedOn: string;
  @Field({ description: 'The vaccine\'s code in the vaccines catalogue.' }) vaccineCode: string;
  @Field({ description: 'The vaccine\'s manufacturer.' }) manufacturer: string;
  @Field({ description: 'The vaccine\'s product name.' }) product: string;
  @Field({ description: 'The lot number as stored (upper-case).' }) lotNumber: string;
  @Field({ description: '接種地: the site\'s own municipality.' }) siteMunicipalityCode: string;
  @Field(() => String, { nullable: true, description: '接種会場: the venue; null when not given.' }) venue: string | null;
  @Field(() => String, { nullable: true, description: '医師名: the doctor; null when not given.' }) doctorName: string | null;
  @Field({ description: 'When the first registration was written (a retry returns the same time).' }) registeredAt: Date;
}

@ObjectType({ description: 'The receipt, or why the dose was refused.' })
export class RegisterDosePayload {
  @Field(() => DoseReceipt, { nullable: true, description: 'Null when userErrors is not empty.' }) receipt?: DoseReceipt | null;
  @Field(() => [UserError], { description: 'Each refused input field, with its ErrorCode; empty on success.' }) userErrors: UserError[];
}

@ObjectType({ description: 'A product of the vaccine catalogue.' })
export class VaccineProduct {
  @Field({ description: 'The code to give as vaccineCode.' }) code: string;
  @Field({ description: 'The manufacturer.' }) manufacturer: string;
  @Field({ description: 'The product name in English.' }) product: string;
  @Field({ description: 'The product name in Japanese.' }) productJa: string;
}
