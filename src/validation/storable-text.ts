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
 * database. Walked with a stack of its own, bounded in depth, so that no body can stall it.
 */
export function unstorableVariable(variables: unknown): { field: string[]; message: string } | null {
  const stack: { value: unknown; path: string[] }[] = [{ value: variables, path: ['variables'] }];
  while (stack.length) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      if (unstorable(value)) return { field: path, message: UNSTORABLE_MESSAGE };
    } else if (value !== null && typeof value === 'object') {
      if (path.length > MAX_DEPTH) return { field: path, message: `nests deeper than ${MAX_DEPTH} levels` };
      for (const [key, inner] of Object.entries(value)) {
        if (unstorable(key)) return { field: [...path, key], message: UNSTORABLE_MESSAGE };
        stack.push({ value: inner, path: [...path, key] });
      }
    }
  }
  return null;
}

/** The same for string literals written in the query itself (an escape such as \u0000). */
export const storableLiterals: ValidationRule = (context) => ({
  StringValue(node) {
    if (unstorable(node.value)) context.reportError(new GraphQLError(`A string literal ${UNSTORABLE_MESSAGE}`, { nodes: node }));
  },
});
