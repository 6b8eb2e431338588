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
registerEnumType(PlatformFunction, { name: 'PlatformFunction' });

@Entity('function_suspension')
@ObjectType({ description: 'A function stopped platform-wide (no municipality) or for one municipality.' })
export class FunctionSuspension {
  @PrimaryColumn({ type: 'uuid' })
  @Field(() => ID)
  id: string;

  @Column({ type: 'text' })
  @Field(() => PlatformFunction)
  function: PlatformFunction;

  @Column({ name: 'municipality_code', type: 'char', length: 6, nullable: true })
  @Field(() => String, { nullable: true })
  municipalityCode: string | null;

  @Column({ type: 'text' })
  @Field()
  reason: string;

  @Column({ name: 'suspended_by', type: 'uuid' })
  @Field()
  suspendedBy: string;

  @Column({ name: 'suspended_at', type: 'timestamptz' })
  @Field()
  suspendedAt: Date;
}
