import { InputError, UserError } from '../errors';

/** The wording every mutation payload gives its two halves. */
export const payloadDescriptions = {
  data: 'Null when userErrors is not empty.',
  userErrors: 'Each refused input field, with its ErrorCode and a message; empty on success.',
} as const;

/** Runs a mutation's service call and reports bad input as userErrors instead of a GraphQL error. */
export async function withUserErrors<T extends object>(run: () => Promise<T>): Promise<T & { userErrors: UserError[] } | { userErrors: UserError[] }> {
  try {
    return { ...(await run()), userErrors: [] };
  } catch (error) {
    if (error instanceof InputError) return { userErrors: error.errors };
    throw error;
  }
}
