import 'reflect-metadata';
import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { applyMiddleware, IMiddlewareTypeMap } from 'graphql-middleware';
import { buildSchemaSync } from 'type-graphql';
import { Context, keepWrite } from '../context';
import { ErrorCode, UserError } from '../errors';
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

/** Ids a mutation's arguments name (`id`, `residentId`, … at any depth), at most 20 of them. */
function idsIn(args: unknown): string[] {
  const ids: string[] = [];
  const walk = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      if (key === 'id' || key.endsWith('Id')) ids.push(value);
    } else if (Array.isArray(value)) value.forEach((item) => walk(item, key));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  walk(args, '');
  return ids.slice(0, 20);
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
    const userErrors = (result as { userErrors?: UserError[] } | null)?.userErrors ?? [];
    if (ctx.actor && userErrors.some((e) => e.code === ErrorCode.NOT_FOUND)) {
      const entry = { operation: `${info.fieldName}.notFound`, municipalityCode: ctx.actor.municipalityCode, targetIds: idsIn(args), outcome: 'FAILURE' as const };
      await keepWrite(ctx, await ctx.session.manager(), (db) => writeAudit(db, ctx, [entry]));
      await ctx.services.detector.denied(ctx.actor, ctx.sourceAddress, 1);
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
