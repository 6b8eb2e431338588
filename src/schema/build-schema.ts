import 'reflect-metadata';
import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { buildSchemaSync } from 'type-graphql';
import { fieldsWithoutRule, permissions } from '../policies/shield';
import { AccountResolver } from '../resolvers/account.resolver';
import { MunicipalityResolver } from '../resolvers/municipality.resolver';
import { ResidentResolver } from '../resolvers/resident.resolver';
import { StatisticsResolver } from '../resolvers/statistics.resolver';
import './enums';

export const resolvers = [AccountResolver, MunicipalityResolver, ResidentResolver, StatisticsResolver] as const;

/** The schema as the resolvers declare it, before any policy is applied. */
export function buildBareSchema(): GraphQLSchema {
  return buildSchemaSync({ resolvers: [...resolvers], validate: false });
}

/** The served schema: every field behind the shield. Refuses to build if any field has no rule. */
export function buildSchema(schema: GraphQLSchema = buildBareSchema()): GraphQLSchema {
  const missing = fieldsWithoutRule(schema);
  if (missing.length > 0) throw new Error(`fields without a policy rule: ${missing.join(', ')}`);
  return shieldSchema(schema);
}

export const shieldSchema = (schema: GraphQLSchema): GraphQLSchema => applyMiddleware(schema, permissions);

export function printSortedSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
