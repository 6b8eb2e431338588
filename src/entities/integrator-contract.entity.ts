import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A municipality's contract with a reservation-system integrator: what the integrator may ask about. */
@Entity('integrator_contract')
@ObjectType({ description: 'A municipality that contracted a reservation-system integrator.' })
export class IntegratorContract {
  @PrimaryColumn({ name: 'municipality_code', type: 'char', length: 6 })
  @Field({ description: 'The municipality that contracted the integrator.' })
  municipalityCode: string;

  @PrimaryColumn({ name: 'integrator_account_id', type: 'uuid' })
  @Field(() => ID, { description: 'The integrator\'s account id.' })
  integratorAccountId: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  @Field({ description: 'When the contract was recorded (ISO 8601, UTC).' })
  createdAt: Date;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;
}
