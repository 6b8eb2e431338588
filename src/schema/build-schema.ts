import 'reflect-metadata';
import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { applyMiddleware, IMiddlewareTypeMap } from 'graphql-middleware';
import { buildSchemaSync } from 'type-graphql';
import { Context, countRefusal, keepWrite } from '../context';
import { ErrorCode, UserError } from '../errors';
import { isUuid } from '../validation/identifiers';
import { clearLoaders } from '../loaders';
import { fieldsWithoutRule, permissions } from '../policies/shield';
import { AccountResolver } from '../resolvers/account.resolver';
import { AuditResolver } from '../resolvers/audit.resolver';
import { ImportJobResolver } from '../resolvers/import-job.resolver';
import { MunicipalityResolver } from '../resolvers/municipality.resolver';
import { IntegratorResolver } from '../resolvers/integrator.resolver';
import { OperationsResolver } from '../resolvers/operations.resolver';
import { ResidentResolver } from '../resolvers/resident.resolver';
import { TicketResolver } from '../resolvers/ticket.resolver';
import { ResidentVaccinationResolver, VaccinationRecordResolver } from '../resolvers/vaccination-record.resolver';
import { VaccinationResolver } from '../resolvers/vaccination.resolver';
import { StatisticsResolver } from '../resolvers/statistics.resolver';
import { writeAudit } from '../services/audit.service';
import './enums';

export const resolvers = [
  AccountResolver, AuditResolver, ImportJobResolver, MunicipalityResolver, OperationsResolver, ResidentResolver, StatisticsResolver,
  TicketResolver, VaccinationResolver, VaccinationRecordResolver, ResidentVaccinationResolver, IntegratorResolver,
] as const;

/** The schema as the resolvers declare it, before any policy is applied. */
export function buildBareSchema(): GraphQLSchema {
  return buildSchemaSync({ resolvers: [...resolvers], validate: false });
}

/** At most this many missed rows of one mutation are logged and counted. */
const MISSES_NOTED = 20;

/**
 * The row ids a mutation's NOT_FOUND answers name: the argument at each error's path, when the
 * path ends at an id (`id`, `residentId`, `input.tickets.3.residentId`…; other NOT_FOUND answers,
 * such as a function that is not suspended, are no missing row). An argument that is no uuid is
 * logged as '-': whatever was typed there (a My Number pasted by mistake, say) stays out of the log.
 */
function missedIds(args: Record<string, unknown>, userErrors: UserError[]): string[] {
  return userErrors
    .filter((e) => e.code === ErrorCode.NOT_FOUND && /^(id|.*Id)$/.test(String(e.field[e.field.length - 1])))
    .slice(0, MISSES_NOTED)
    .map((e) => {
      const value = e.field.reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), args);
      return typeof value === 'string' && isUuid(value) ? value.toLowerCase() : '-';
    });
}

/**
 * A document's mutations run one after another, each reading its payload through the request's
 * loaders: each starts with them emptied, so none shows rows an earlier one loaded and then changed.
 *
 * A change asked of a row the caller cannot find (missing, or another municipality's: the answer
 * never says which) is logged as `<mutation>.notFound` FAILURE with the ids asked for, kept even if
 * the request is undone, and counted as a refusal for intrusion detection: someone trying another
 * municipality's ids is seen, though each answer reads like a typo's.
 */
const mutationsWatched: IMiddlewareTypeMap<unknown, Context> = {
  Mutation: async (resolve, parent, args, ctx, info) => {
    clearLoaders(ctx.loaders);
    const result = await resolve(parent, args, ctx, info);
    const missed = missedIds(args, (result as { userErrors?: UserError[] } | null)?.userErrors ?? []);
    if (ctx.actor && missed.length > 0) {
      const entry = { operation: `${info.fieldName}.notFound`, municipalityCode: ctx.actor.municipalityCode, targetIds: missed, outcome: 'FAILURE' as const };
      await keepWrite(ctx, await ctx.session.manager(), (db) => writeAudit(db, ctx, [entry]));
      await countRefusal(ctx);
    }
    return result;
  },
};

/** The served schema: every field behind the shield. Refuses to build if any field has no rule. */
export function buildSchema(schema: GraphQLSchema = buildBareSchema()): GraphQLSchema {
  const missing = fieldsWithoutRule(schema);
  if (missing.length > 0) throw new Error(`fields without a policy rule: ${missing.join(', ')}`);
  return applyMiddleware(shieldSchema(schema), mutationsWatched);
}

export const shieldSchema = (schema: GraphQLSchema): GraphQLSchema => applyMiddleware(schema, permissions);

export function printSortedSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
