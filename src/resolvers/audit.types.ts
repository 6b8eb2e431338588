import { Field, InputType, ObjectType } from 'type-graphql';
import { AuditEvent } from '../entities/audit-event.entity';

@InputType({ description: 'Conditions on events; those given all apply.' })
export class AuditEventFilter {
  @Field({ nullable: true, description: 'ISO 8601 timestamp, inclusive.' }) from?: Date;
  @Field({ nullable: true, description: 'ISO 8601 timestamp, exclusive.' }) to?: Date;
  @Field({ nullable: true, description: 'Only events of this account (its id).' }) actorId?: string;
  @Field({ nullable: true, description: 'Exact operation name, e.g. "resident.update".' }) operation?: string;
  @Field({ nullable: true, description: 'Only events naming this id among targetIds.' }) targetId?: string;
  @Field({ nullable: true, description: 'Operator only: one municipality.' }) municipalityCode?: string;
}

@ObjectType({ description: 'A page of the operation log.' })
export class AuditEventConnection {
  @Field(() => [AuditEvent], { description: 'The events of this page, newest first.' }) nodes: AuditEvent[];
  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next, older page; null on the last.' }) endCursor: string | null;
}
