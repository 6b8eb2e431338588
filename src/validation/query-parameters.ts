import { ErrorCode, ErrorCollector } from '../errors';

/**
 * The query string of a CSV route holds only the parameters it knows, each at most once and not
 * empty: a misspelt or doubled filter must not quietly widen a download or change an import.
 * Returns the names refused, whose values the caller leaves unread: one error a parameter.
 */
export function checkQueryParameters(params: URLSearchParams, known: readonly string[], errors: ErrorCollector): Set<string> {
  const refused = new Set<string>();
  const refuse = (name: string, code: ErrorCode, message: string) => {
    errors.add([name], code, message);
    refused.add(name);
  };
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    if (!known.includes(name)) {
      refuse(name, ErrorCode.INVALID_FORMAT, known.length > 0 ? `is not a parameter here; use ${known.join(', ')}` : 'is not a parameter here: this address takes none');
    }
    else if (values.length > 1) refuse(name, ErrorCode.INVALID_FORMAT, 'must be given once');
    else if (values[0].trim() === '') refuse(name, ErrorCode.REQUIRED, 'must not be empty; leave the parameter out instead');
  }
  return refused;
}
