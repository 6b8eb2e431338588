import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Context } from '../context';
import { Ticket } from '../entities/ticket.entity';
import { ocrLineOf } from '../validation/tickets';
import { withUserErrors } from './payload';
import { pageSizeDescription } from './resident.types';
import { IssueTicketsInput, IssueTicketsPayload, TicketConnection, TicketFilter, TicketPayload } from './ticket.types';

@Resolver(() => Ticket)
export class TicketResolver {
  @Query(() => TicketConnection, { description: 'Tickets of the caller\'s municipality, in ticket-number order.' })
  tickets(
    @Ctx() ctx: Context,
    @Arg('filter', () => TicketFilter, { nullable: true, description: 'Conditions that all apply; omitted, every ticket.' }) filter?: TicketFilter,
    @Arg('first', () => Int, { defaultValue: 50, description: pageSizeDescription }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'The endCursor of the previous page; omitted for the first page. Any other value is refused (BAD_USER_INPUT).' }) after?: string,
  ): Promise<TicketConnection> {
    return ctx.services.tickets.list(ctx, filter ?? {}, first, after);
  }

  @Query(() => Ticket, { nullable: true, description: 'A ticket of the caller\'s municipality by its 10-digit number.' })
  ticketByNumber(@Ctx() ctx: Context, @Arg('ticketNumber', { description: '接種券番号: 10 digits.' }) ticketNumber: string): Promise<Ticket | null> {
    return ctx.services.tickets.byNumber(ctx, ticketNumber);
  }

  @FieldResolver(() => String, { description: 'The 18-digit OCR line printed on the ticket.' })
  ocrLine(@Root() ticket: Ticket): string {
    return ocrLineOf(ticket.municipalityCode, ticket.ticketNumber, ticket.series);
  }

  @Mutation(() => IssueTicketsPayload, { description: '接種券の発行: tickets of one series for the caller\'s own residents.' })
  issueTickets(@Ctx() ctx: Context, @Arg('input', () => IssueTicketsInput, { description: 'The series and whom to issue to.' }) input: IssueTicketsInput) {
    return withUserErrors(() => ctx.services.tickets.issue(ctx, input));
  }

  @Mutation(() => TicketPayload, { description: 'Voids a ticket of the caller\'s municipality as of today (JST); one already void is TICKET_VOID. A void ticket stays void.' })
  voidTicket(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { description: 'The ticket\'s id.' }) id: string,
    @Arg('reason', { description: 'Why, up to 200 characters; kept as voidReason.' }) reason: string,
  ) {
    return withUserErrors(async () => ({ ticket: await ctx.services.tickets.void(ctx, id, reason) }));
  }
}
