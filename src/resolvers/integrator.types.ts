import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IntegratorContract } from '../entities/integrator-contract.entity';
import { UserError } from '../errors';

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
    MOVED_OUT: { description: 'The person moved out of the municipality: the new municipality\'s ticket is needed.' },
    VOID: { description: 'Voided, issued to a person who died, or for a later dose than the person is due for.' },
  },
});

@ObjectType({ description: 'What a reservation system learns about a ticket. No personal data.' })
export class TicketEligibility {
  @Field(() => EligibilityStatus) status: EligibilityStatus;
  @Field(() => Int, { nullable: true, description: 'The next dose the ticket can be used for (VALID only).' }) nextDoseNumber: number | null;
  @Field(() => String, { nullable: true, description: 'Earliest date the next dose is allowed (VALID only; null when no interval applies).' })
  nextDoseAllowedFrom: string | null;
}

@ObjectType()
export class IntegratorContractPayload {
  @Field(() => IntegratorContract, { nullable: true }) contract?: IntegratorContract | null;
  @Field(() => [UserError]) userErrors: UserError[];
}
