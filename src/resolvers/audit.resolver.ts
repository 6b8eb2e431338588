import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import { Context } from '../context';
import { searchAudit } from '../services/audit.service';
import { AuditEventConnection, AuditEventFilter } from './audit.types';

@Resolver()
export class AuditResolver {
  @Query(() => AuditEventConnection, { description: 'Operation log, newest first: a municipality sees its own, the operator all.' })
  auditEvents(
    @Ctx() ctx: Context,
    @Arg('filter', () => AuditEventFilter, { nullable: true, description: 'Conditions that all apply; omitted, every event the caller may read.' }) filter?: AuditEventFilter,
    @Arg('first', () => Int, { defaultValue: 100, description: 'At most 500.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'The endCursor of the previous page; omitted for the first page. Any other value is refused (BAD_USER_INPUT).' }) after?: string,
  ): Promise<AuditEventConnection> {
    return searchAudit(ctx, filter ?? {}, first ?? 100, after);
  }
}
