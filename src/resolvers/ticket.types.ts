import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Ticket } from '../entities/ticket.entity';
import { UserError } from '../errors';
import { payloadDescriptions } from './payload';
import { PageInfo } from './resident.types';

export const MAX_EXPLICIT_TICKETS = 1000;

@InputType({ description: 'One ticket to issue. Give the number for tickets printed before registration; omit it to have one assigned.' })
export class TicketRequest {
  @Field(() => ID, { description: 'A resident of the caller\'s municipality.' }) residentId: string;
  @Field({ nullable: true, description: '10 digits, unique within the municipality.' }) ticketNumber?: string;
}

@InputType({ description: 'Tickets for one campaign series. Give `tickets` (all issued, or none and every entry\'s problems named), or `allActiveResidents` to issue to every active resident born by `issuedOn` without an open ticket of the series.' })
export class IssueTicketsInput {
  @Field({ description: 'Doses the series covers: "1-2" or "3"; the first at most 9 (the OCR line has one digit for it), the last at most 20.' }) series: string;
  @Field({ nullable: true, description: 'ISO 8601 date; defaults to today (JST).' }) issuedOn?: string;
  @Field(() => [TicketRequest], { nullable: true, description: `At most ${MAX_EXPLICIT_TICKETS}.` }) tickets?: TicketRequest[];
  @Field({ nullable: true, description: 'true: issue to every ACTIVE resident born by issuedOn who holds no open ticket of the series; give no tickets with it.' }) allActiveResidents?: boolean;
}

@ObjectType({ description: 'What an issuance did, or why not.' })
export class IssueTicketsPayload {
  @Field(() => Int, { nullable: true, description: 'How many tickets were issued; null when userErrors is not empty.' }) issuedCount?: number | null;
  @Field(() => [Ticket], { nullable: true, description: 'The tickets issued from an explicit list (not for allActiveResidents).' }) tickets?: Ticket[] | null;
  @Field(() => Int, { nullable: true, description: 'Pending doses (接種対象者登録待ち) that these tickets matched.' }) matchedPendingDoses?: number | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

@ObjectType({ description: 'The ticket as changed, or why not.' })
export class TicketPayload {
  @Field(() => Ticket, { nullable: true, description: payloadDescriptions.data }) ticket?: Ticket | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}

@InputType({ description: 'Conditions on tickets; those given all apply.' })
export class TicketFilter {
  @Field(() => ID, { nullable: true, description: 'Only this resident\'s tickets.' }) residentId?: string;
  @Field({ nullable: true, description: 'As issued: "3" or "1-2" ("01-02" is "1-2"); a series issuance would refuse, or an empty one, is refused (BAD_USER_INPUT).' }) series?: string;
  @Field({ nullable: true, description: 'true: only open tickets; false: only void ones.' }) open?: boolean;
}

@ObjectType({ description: 'A page of tickets.' })
export class TicketConnection {
  @Field(() => [Ticket], { description: 'The tickets of this page, in ticket-number order.' }) nodes: Ticket[];
  @Field(() => PageInfo, { description: 'Whether more follow, and where to continue.' }) pageInfo: PageInfo;
}
