import { ErrorCode, InputError } from '../errors';
import { nameCharactersProblem } from './identifiers';

/** A free-text reason an officer must give (void, correct, delete, dismiss, suspend): trimmed, present, bounded, plain text. */
export function checkReason(reason: string | null | undefined, max = 500, field = ['reason']): string {
  const text = (reason ?? '').trim();
  if (!text) throw InputError.of(field, ErrorCode.REQUIRED, 'must not be empty');
  const problem = nameCharactersProblem(text);
  if (problem) throw InputError.of(field, ErrorCode.INVALID_FORMAT, problem);
  if (text.length > max) throw InputError.of(field, ErrorCode.INVALID_FORMAT, `must be at most ${max} characters`);
  return text;
}
