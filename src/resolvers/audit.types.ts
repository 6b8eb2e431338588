import { Field, InputType, ObjectType } from 'type-graphql';
import { AuditEvent } from '../entities/audit-event.entity';

@InputType()
export class AuditEventFilter {
  @Field({ nullable: true, description: 'ISO 8601 timestamp, inclusive.' }) from?: Date;
  @Field({ nullable: true, description: 'ISO 8601 timestamp, exclusive.' }) to?: Date;
  @Field({ nullable: true }) actorId?: string;
  @Field({ nullable: true, description: 'Exact operation name, e.g. "resident.update".' }) operation?: string;
  @Field({ nullable: true }) targetId?: string;
  @Field({ nullable: true, description: 'Operator only: one municipality.' }) municipalityCode?: string;
}

@ObjectType()
export class AuditEventConnection {
  @Field(() => [AuditEvent]) nodes: AuditEvent[];
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next, older page; null on the last.' }) endCursor: string | null;
}
