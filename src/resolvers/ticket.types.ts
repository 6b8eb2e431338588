import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Ticket } from '../entities/ticket.entity';
import { UserError } from '../errors';
import { PageInfo } from './resident.types';

export const MAX_EXPLICIT_TICKETS = 1000;

@InputType({ description: 'One ticket to issue. Give the number for tickets printed before registration; omit it to have one assigned.' })
export class TicketRequest {
  @Field(() => ID) residentId: string;
  @Field({ nullable: true, description: '10 digits, unique within the municipality.' }) ticketNumber?: string;
}

@InputType({ description: 'Tickets for one campaign series. Give `tickets` (all issued, or none and every entry\'s problems named), or `allActiveResidents` to issue to every active resident born by `issuedOn` without an open ticket of the series.' })
export class IssueTicketsInput {
  @Field({ description: 'Doses the series covers: "1-2" or "3"; the first at most 9 (the OCR line has one digit for it), the last at most 20.' }) series: string;
  @Field({ nullable: true, description: 'ISO 8601 date; defaults to today.' }) issuedOn?: string;
  @Field(() => [TicketRequest], { nullable: true, description: `At most ${MAX_EXPLICIT_TICKETS}.` }) tickets?: TicketRequest[];
  @Field({ nullable: true }) allActiveResidents?: boolean;
}

@ObjectType()
export class IssueTicketsPayload {
  @Field(() => Int, { nullable: true }) issuedCount?: number | null;
  @Field(() => [Ticket], { nullable: true, description: 'The tickets issued from an explicit list (not for allActiveResidents).' }) tickets?: Ticket[] | null;
  @Field(() => Int, { nullable: true, description: 'Pending doses (接種対象者登録待ち) that these tickets matched.' }) matchedPendingDoses?: number | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

@ObjectType()
export class TicketPayload {
  @Field(() => Ticket, { nullable: true }) ticket?: Ticket | null;
  @Field(() => [UserError]) userErrors: UserError[];
}

@InputType()
export class TicketFilter {
  @Field(() => ID, { nullable: true }) residentId?: string;
  @Field({ nullable: true, description: 'As issued: "3" or "1-2" ("01-02" is "1-2"); a series issuance would refuse, or an empty one, is refused (BAD_USER_INPUT).' }) series?: string;
  @Field({ nullable: true, description: 'true: only open tickets; false: only void ones.' }) open?: boolean;
}

@ObjectType()
export class TicketConnection {
  @Field(() => [Ticket]) nodes: Ticket[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}
