import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Context } from '../context';
import { VACCINES } from '../validation/vaccines';
import { withUserErrors } from './payload';
import { DoseReceipt, RegisterDoseInput, RegisterDosePayload, TicketReference, TicketScan, VaccineProduct } from './vaccination.types';

/** The vaccination-site tablet's operations. */
@Resolver()
export class VaccinationResolver {
  @Query(() => TicketScan, { description: 'A scanned ticket: usable or why not, and its dose history (no personal data).' })
  scanTicket(@Ctx() ctx: Context, @Arg('ticket', () => TicketReference, { description: 'The OCR line, or the municipality code and ticket number.' }) ticket: TicketReference): Promise<TicketScan> {
    return ctx.services.vaccinations.scan(ctx, ticket);
  }

  @Mutation(() => RegisterDosePayload, { description: 'Registers a dose into the ticket\'s municipality. Retries with the same idempotencyKey return the first receipt.' })
  registerDose(@Ctx() ctx: Context, @Arg('input', () => RegisterDoseInput, { description: 'The dose given, and the ticket it was given on.' }) input: RegisterDoseInput) {
    return withUserErrors(async () => ({ receipt: await ctx.services.vaccinations.register(ctx, input) }));
  }

  @Query(() => DoseReceipt, { nullable: true, description: 'A receipt this tablet account received; null for anything else.' })
  doseReceipt(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'DoseReceipt.id, as registerDose returned it.' }) id: string): Promise<DoseReceipt | null> {
    return ctx.services.vaccinations.receiptById(ctx, id);
  }

  @Query(() => [VaccineProduct], { description: 'The vaccine catalogue: one code per product used in Japan.' })
  vaccines(): VaccineProduct[] {
    return [...VACCINES];
  }
}
