import { badCursor } from '../errors';

/** Keyset cursors: the sort key of the last row, opaque to clients (base64url JSON). */
export function encodeCursor(key: string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key back from a cursor of `length` parts; anything else is the client's mistake. */
export function decodeCursor(cursor: string, length = 2): string[] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (Array.isArray(value) && value.length === length && value.every((v) => typeof v === 'string')) return value;
  } catch {
    // fall through to the error below
  }
  throw badCursor();
}
