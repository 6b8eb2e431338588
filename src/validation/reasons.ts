import { ErrorCode, ErrorCollector } from '../errors';
import { charCount } from './identifiers';

/** A reason may run over lines; other control characters are no text anyone typed. */
const NOT_IN_REASONS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * A free-text reason an officer must give (void, correct, delete, dismiss, suspend): trimmed, present, bounded in characters (𠮷 is one), plain text.
 * Its problem is added to `errors`, beside the request's other fields', and the text is null.
 */
export function collectReason(errors: ErrorCollector, reason: string | null | undefined, max = 500, field = ['reason']): string | null {
  const text = (reason ?? '').trim();
  if (!text) errors.add(field, ErrorCode.REQUIRED, 'must not be empty');
  else if (NOT_IN_REASONS.test(text)) errors.add(field, ErrorCode.INVALID_FORMAT, 'must not contain control characters other than tabs and line breaks');
  else if (charCount(text) > max) errors.add(field, ErrorCode.INVALID_FORMAT, `must be at most ${max} characters`);
  else return text;
  return null;
}

/** The reason as collectReason checks it, refused alone where it is the request's only input. */
export function checkReason(reason: string | null | undefined, max = 500, field = ['reason']): string {
  const errors = new ErrorCollector();
  const text = collectReason(errors, reason, max, field);
  errors.throwIfAny();
  return text!;
}
