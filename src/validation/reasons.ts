import { ErrorCode, InputError } from '../errors';
import { charCount } from './identifiers';

/** A reason may run over lines; other control characters are no text anyone typed. */
const NOT_IN_REASONS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** A free-text reason an officer must give (void, correct, delete, dismiss, suspend): trimmed, present, bounded in characters (𠮷 is one), plain text. */
export function checkReason(reason: string | null | undefined, max = 500, field = ['reason']): string {
  const text = (reason ?? '').trim();
  if (!text) throw InputError.of(field, ErrorCode.REQUIRED, 'must not be empty');
  if (NOT_IN_REASONS.test(text)) throw InputError.of(field, ErrorCode.INVALID_FORMAT, 'must not contain control characters other than tabs and line breaks');
  if (charCount(text) > max) throw InputError.of(field, ErrorCode.INVALID_FORMAT, `must be at most ${max} characters`);
  return text;
}
