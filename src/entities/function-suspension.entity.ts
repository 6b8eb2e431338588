import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Functions the operator can stop in an emergency (DESIGN.md §4.10). */
export enum PlatformFunction {
  CERTIFICATE_ISSUANCE = 'CERTIFICATE_ISSUANCE',
  INQUIRY = 'INQUIRY',
  TABLET_REGISTRATION = 'TABLET_REGISTRATION',
  IMPORT = 'IMPORT',
  EXPORT = 'EXPORT',
}
registerEnumType(PlatformFunction, {
  name: 'PlatformFunction',
  description: 'A function the operator can stop in an emergency (suspendFunction); a stopped call fails with FUNCTION_SUSPENDED.',
  valuesConfig: {
    CERTIFICATE_ISSUANCE: { description: 'Certificate issuance (接種証明書). Not built yet: the switch is ready for it.' },
    INQUIRY: { description: 'Move-in inquiries between municipalities. Not built yet: the switch is ready for it.' },
    TABLET_REGISTRATION: { description: 'scanTicket and registerDose: stopped for a municipality, its own sites and every site scanning its tickets.' },
    IMPORT: { description: 'Resident registry CSV imports; one already running fails before it writes anything.' },
    EXPORT: { description: 'Vaccination record CSV export.' },
  },
});

@Entity('function_suspension')
@ObjectType({ description: 'A function stopped platform-wide (no municipality) or for one municipality.' })
export class FunctionSuspension {
  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID, { description: 'The stop\'s id.' })
  id: string;

  @Column({ type: 'text' })
  @Field(() => PlatformFunction, { description: 'The function stopped.' })
  function: PlatformFunction;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true, description: 'The municipality it is stopped for; null when platform-wide.' })
  municipalityCode: string | null;

  @Column({ type: 'text' })
  @Field({ description: 'Why, as the operator gave it.' })
  reason: string;

  @Column({ name: 'suspended_by', type: 'uuid' })
  @Field({ description: 'The operator account that stopped it.' })
  suspendedBy: string;

  @Column({ name: 'suspended_at', type: 'timestamptz' })
  @Field({ description: 'When it was stopped (ISO 8601, UTC).' })
  suspendedAt: Date;
}
