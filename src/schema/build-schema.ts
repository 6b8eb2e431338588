import 'reflect-metadata';
import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { applyMiddleware, IMiddlewareTypeMap } from 'graphql-middleware';
import { buildSchemaSync } from 'type-graphql';
import type { Context } from '../context';
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
import './enums';

export const resolvers = [
  AccountResolver, AuditResolver, ImportJobResolver, MunicipalityResolver, OperationsResolver, ResidentResolver, StatisticsResolver,
  TicketResolver, VaccinationResolver, VaccinationRecordResolver, ResidentVaccinationResolver, IntegratorResolver,
] as const;

/** The schema as the resolvers declare it, before any policy is applied. */
export function buildBareSchema(): GraphQLSchema {
  return buildSchemaSync({ resolvers: [...resolvers], validate: false });
}

/**
 * A document's mutations run one after another, each reading its payload through the request's
 * loaders: each starts with them emptied, so none shows rows an earlier one loaded and then changed.
 */
const freshLoadersPerMutation: IMiddlewareTypeMap<unknown, Context> = {
  Mutation: (resolve, parent, args, ctx, info) => {
    clearLoaders(ctx.loaders);
    return resolve(parent, args, ctx, info);
  },
};

/** The served schema: every field behind the shield. Refuses to build if any field has no rule. */
export function buildSchema(schema: GraphQLSchema = buildBareSchema()): GraphQLSchema {
  const missing = fieldsWithoutRule(schema);
  if (missing.length > 0) throw new Error(`fields without a policy rule: ${missing.join(', ')}`);
  return applyMiddleware(shieldSchema(schema), freshLoadersPerMutation);
}

export const shieldSchema = (schema: GraphQLSchema): GraphQLSchema => applyMiddleware(schema, permissions);

export function printSortedSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
