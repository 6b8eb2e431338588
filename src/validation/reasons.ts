import { ErrorCode, InputError } from '../errors';

/** A free-text reason an officer must give (void, correct, delete, dismiss): trimmed, present, bounded. */
export function checkReason(reason: string | null | undefined, max = 500): string {
  const text = (reason ?? '').trim();
  if (!text) throw InputError.of(['reason'], ErrorCode.REQUIRED, 'must not be empty');
  if (text.length > max) throw InputError.of(['reason'], ErrorCode.INVALID_FORMAT, `must be at most ${max} characters`);
  return text;
}
