import { GraphQLError, ValidationRule } from 'graphql';

/** PostgreSQL text holds no NUL, and an unpaired surrogate would be stored as U+FFFD: neither is text anyone typed. */
const UNSTORABLE = /[\u0000\p{Cs}]/u;
const unstorable = (text: string): boolean => UNSTORABLE.test(text);

const UNSTORABLE_MESSAGE = 'must not contain NUL characters or unpaired surrogates';

/** Deeper variables than any input type of the schema nests: refused rather than walked. */
const MAX_DEPTH = 32;

/**
 * The path of the first string in a request's variables that no column could hold, or null: such
 * input is refused before any resolver runs, naming where it is, instead of failing in the
 * database. Walked depth first along one path, bounded in depth, so that no body can stall it: a
 * path of its own for every value waiting to be looked at took a 1 MB list of numbers 30 levels
 * down, sent without a token, to 300 MB and most of a second.
 */
export function unstorableVariable(variables: unknown): { field: string[]; message: string } | null {
  const path = ['variables'];
  const refused = (message: string) => ({ field: [...path], message });
  const walk = (value: unknown): { field: string[]; message: string } | null => {
    if (typeof value === 'string') return unstorable(value) ? refused(UNSTORABLE_MESSAGE) : null;
    if (value === null || typeof value !== 'object') return null;
    if (path.length > MAX_DEPTH) return refused(`nests deeper than ${MAX_DEPTH} levels`);
    // A list's places are named as they are reached, not all listed first.
    const keys = Array.isArray(value) ? null : Object.keys(value);
    for (let i = 0; i < (keys ?? (value as unknown[])).length; i++) {
      const key = keys ? keys[i] : String(i);
      path.push(key);
      const found = unstorable(key) ? refused(UNSTORABLE_MESSAGE) : walk((value as Record<string, unknown>)[key]);
      path.pop();
      if (found) return found;
    }
    return null;
  };
  return walk(variables);
}

/** The same for string literals written in the query itself (an escape such as \u0000). */
export const storableLiterals: ValidationRule = (context) => ({
  StringValue(node) {
    if (unstorable(node.value)) context.reportError(new GraphQLError(`A string literal ${UNSTORABLE_MESSAGE}`, { nodes: node }));
  },
});
