import { EntityTarget, EntityManager, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { badCursor } from '../errors';
import { applyScope, Scope } from '../policies/scope';

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

/**
 * Narrows a list read in (municipality_code, `key`) order to the rows after `cursor`, a
 * [municipality, key] pair as encodeCursor made it. Such a list is read within the one
 * municipality of its reader's scope (an officer's own), so only the key is compared: the
 * planner estimates a row comparison (municipality_code, key) > (X, k) from its first column
 * alone, as municipality_code > X, which for the municipalities last in code order (Okinawa's)
 * matches next to nothing, and a later page of a search for a few was then read by walking the
 * page-order index. A cursor naming another municipality is none this reader was handed.
 */
export function applyCursor<T extends ObjectLiteral>(query: SelectQueryBuilder<T>, scope: Scope, key: string, cursor: string): SelectQueryBuilder<T> {
  const [municipality, last] = decodeCursor(cursor);
  const codes = new Set(scope.map((conditions) => conditions.municipalityCode));
  if (codes.size !== 1 || typeof [...codes][0] !== 'string') throw new Error(`a list in ${key} order needs a scope of one municipality`);
  if (!codes.has(municipality)) throw badCursor();
  return query.andWhere(`${query.alias}.${key} > :cursorKey`, { cursorKey: last });
}

/** A page of `first` from rows read one past it: the cursor of its last row when another page follows, else null. */
export function pageOf<T>(rows: T[], first: number, cursorOf: (last: T) => string): { nodes: T[]; endCursor: string | null } {
  const nodes = rows.slice(0, first);
  return { nodes, endCursor: rows.length > first ? cursorOf(nodes[nodes.length - 1]) : null };
}

/**
 * A cursor that is the id of a list's last row must name a row the reader can see: any other id would
 * answer a page that reads as the next one (or tell that another tenant's row exists).
 */
export async function checkRowCursor<T extends ObjectLiteral>(db: EntityManager, entity: EntityTarget<T>, scope: Scope, id: string): Promise<void> {
  if (!(await applyScope(db.getRepository(entity).createQueryBuilder('c'), scope).andWhere('c.id = :id', { id }).getExists())) throw badCursor();
}
