import { GraphQLError, ValidationRule } from 'graphql';

/** PostgreSQL text holds no NUL, and an unpaired surrogate would be stored as U+FFFD: neither is text anyone typed. */
const UNSTORABLE = /[\u0000\p{Cs}]/u;
const unstorable = (text: string): boolean => UNSTORABLE.test(text);

export const UNSTORABLE_MESSAGE = 'must not contain NUL characters or unpaired surrogates';

/**
 * The path of the first string in a request's variables that no column could hold, or null: such
 * input is refused before any resolver runs, naming where it is, instead of failing in the database.
 */
export function unstorableVariable(value: unknown, path: (string | number)[] = ['variables']): string[] | null {
  if (typeof value === 'string') return unstorable(value) ? path.map(String) : null;
  if (value === null || typeof value !== 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    if (unstorable(key)) return [...path, key].map(String);
    const found = unstorableVariable(inner, [...path, key]);
    if (found) return found;
  }
  return null;
}

/** The same for string literals written in the query itself (an escape such as \u0000). */
export const storableLiterals: ValidationRule = (context) => ({
  StringValue(node) {
    if (unstorable(node.value)) context.reportError(new GraphQLError(`A string literal ${UNSTORABLE_MESSAGE}`, { nodes: node }));
  },
});
