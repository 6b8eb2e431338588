import DataLoader from 'dataloader';
import { EntityManager, In } from 'typeorm';
import { Municipality } from './entities/municipality.entity';

/** Rows in the order of the keys asked for; a missing key yields null. */
export function byKey<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const map = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => map.get(key) ?? null);
}

/**
 * Per-request loaders: one batch query per relation per tick, and a cache that dies with the
 * request so that no caller ever sees another request's rows.
 */
export function createLoaders(db: () => Promise<EntityManager>) {
  return {
    municipality: new DataLoader<string, Municipality | null>(async (codes) =>
      byKey(codes, await (await db()).getRepository(Municipality).findBy({ code: In([...codes]) }), (m) => m.code),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
