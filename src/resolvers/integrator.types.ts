import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IntegratorContract } from '../entities/integrator-contract.entity';
import { UserError } from '../errors';
import { payloadDescriptions } from './payload';

export enum EligibilityStatus {
  VALID = 'VALID',
  NOT_FOUND = 'NOT_FOUND',
  VOID = 'VOID',
  MOVED_OUT = 'MOVED_OUT',
  COMPLETED = 'COMPLETED',
}
registerEnumType(EligibilityStatus, {
  name: 'EligibilityStatus',
  description: 'NOT_FOUND also when the birth date does not match or the municipality has no contract with the caller.',
  valuesConfig: {
    VALID: { description: 'The ticket can book dose nextDoseNumber, from nextDoseAllowedFrom.' },
    NOT_FOUND: { description: 'No such ticket for this caller: unknown number, wrong birth date, no contract, or too many misses on it.' },
    COMPLETED: { description: 'Every dose of the ticket\'s series is recorded.' },
    MOVED_OUT: { description: 'The person moved out of the municipality: the new municipality\'s ticket is needed.' },
    VOID: { description: 'Voided, issued to a person who died, or for a later dose than the person is due for.' },
  },
});

@ObjectType({ description: 'What a reservation system learns about a ticket. No personal data.' })
export class TicketEligibility {
  @Field(() => EligibilityStatus, { description: 'Whether the ticket can book a dose; nothing tells an unknown ticket from a wrong birth date.' }) status: EligibilityStatus;
  @Field(() => Int, { nullable: true, description: 'The next dose the ticket can be used for (VALID only).' }) nextDoseNumber: number | null;
  @Field(() => String, { nullable: true, description: 'Earliest date the next dose is allowed (VALID only; null when no interval applies).' })
  nextDoseAllowedFrom: string | null;
}

@ObjectType({ description: 'The contract created or ended, or why not.' })
export class IntegratorContractPayload {
  @Field(() => IntegratorContract, { nullable: true, description: payloadDescriptions.data }) contract?: IntegratorContract | null;
  @Field(() => [UserError], { description: payloadDescriptions.userErrors }) userErrors: UserError[];
}
