import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { graphql } from 'graphql';
import { buildSchemaSync, Query, Resolver } from 'type-graphql';
import { fieldsWithoutRule } from '../../src/policies/shield';
import { buildBareSchema, buildSchema, printSortedSchema, resolvers, shieldSchema } from '../../src/schema/build-schema';
import { SCHEMA_FILE } from '../../src/schema/emit-schema';
import { defineAbilityFor, tenantsOf } from '../../src/policies/ability';
import { Channel, Role } from '../../src/schema/enums';

// A field added without a rule, as a careless change would add it.
@Resolver()
class CarelessResolver {
  @Query(() => String)
  allMyNumbers(): string {
    return '123456789018';
  }
}

// A field whose name every object inherits (toString, valueOf, constructor…), added without a rule.
@Resolver()
class InheritedNameResolver {
  @Query(() => String, { name: 'valueOf' })
  careless(): string {
    return '123456789018';
  }
}

describe('policy coverage', () => {
  it('has an explicit rule for every field of every object type', () => {
    expect(fieldsWithoutRule(buildBareSchema())).toEqual([]);
  });

  it('notices a field that has no rule, and the server refuses to build with it', () => {
    const schema = buildSchemaSync({ resolvers: [...resolvers, CarelessResolver], validate: false });
    expect(fieldsWithoutRule(schema)).toEqual(['Query.allMyNumbers']);
    expect(() => buildSchema(schema)).toThrow('fields without a policy rule: Query.allMyNumbers');
  });

  it('notices a field without a rule whose name every object inherits', () => {
    const schema = buildSchemaSync({ resolvers: [...resolvers, InheritedNameResolver], validate: false });
    expect(fieldsWithoutRule(schema)).toEqual(['Query.valueOf']);
    expect(() => buildSchema(schema)).toThrow('fields without a policy rule: Query.valueOf');
  });

  it('denies a field without a rule even if it were served', async () => {
    const schema = shieldSchema(buildSchemaSync({ resolvers: [...resolvers, CarelessResolver], validate: false }));
    const actor = { accountId: 'x', role: Role.MUNICIPALITY, municipalityCode: '131016', prefectureCode: null, channel: Channel.LGWAN };
    const result = await graphql({ schema, source: '{ allMyNumbers }', contextValue: { actor, ability: defineAbilityFor(actor) } });
    expect(result.data).toBeNull();
    expect(result.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('judges My Number by the resident it belongs to, not by its type: another municipality\'s resident reached by a bug stays closed', async () => {
    const schema = shieldSchema(buildBareSchema());
    const actor = { accountId: 'x', role: Role.MUNICIPALITY, municipalityCode: '131016', prefectureCode: null, channel: Channel.LGWAN };
    const resident = (municipalityCode: string) => ({ municipalityCode, id: '00000000-0000-4000-8000-000000000001', addresseeNumber: 'A1' });
    // A service that wrongly hands back a resident: the field rule must still look at whose it is.
    const ask = (municipalityCode: string) => graphql({
      schema,
      source: '{ resident(id: "00000000-0000-4000-8000-000000000001") { myNumber } }',
      contextValue: {
        actor, ability: defineAbilityFor(actor),
        services: { residents: { get: async () => resident(municipalityCode), myNumberOf: async () => '123456789018' } },
      },
    });
    expect((await ask('131016')).data).toEqual({ resident: { myNumber: '123456789018' } });
    const other = await ask('141003');
    expect(JSON.stringify(other)).not.toContain('123456789018');
    expect(other.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['resident', 'myNumber'], 'FORBIDDEN']]);
  });

  it('grants an account still holding the password the operator issued nothing, not even its own municipality\'s rows', () => {
    for (const role of Object.values(Role)) {
      const actor = { accountId: 'x', role, municipalityCode: '131016', prefectureCode: '13', channel: Channel.LGWAN, mustChangePassword: true };
      expect(defineAbilityFor(actor).rules).toEqual([]);
      expect(tenantsOf(actor)).toEqual([]);
      expect(defineAbilityFor({ ...actor, mustChangePassword: false }).rules).not.toEqual([]);
    }
  });

  it('matches the committed schema.graphql (run `npm run schema` after changing the API)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printSortedSchema(buildBareSchema()));
  });
});
