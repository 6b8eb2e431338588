import { badCursor } from '../errors';

/** What the keys of a cursor are made of: municipality codes, addressee and ticket numbers. */
const KEY_PART = /^[0-9A-Za-z-]{1,20}$/;

/** Keyset cursors: the sort key of the last row, opaque to clients (base64url JSON). */
export function encodeCursor(key: string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key back from a cursor of `length` parts; anything else is the client's mistake. */
export function decodeCursor(cursor: string, length = 2): string[] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (Array.isArray(value) && value.length === length && value.every((v) => typeof v === 'string' && KEY_PART.test(v))) return value;
  } catch {
    // fall through to the error below
  }
  throw badCursor();
}
