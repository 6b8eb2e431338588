import { rmSync } from 'node:fs';
import path from 'node:path';
import { createDataSource, migrate } from '../../src/db/data-source';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { syncReferenceData } from '../../src/db/reference-data';

/**
 * Tests run against a real PostgreSQL: DATABASE_URL if set, otherwise a throw-away embedded
 * cluster under .data/test-pg. The schema is migrated once; tests then create their own tenants.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.DATABASE_URL) {
    const dir = path.resolve('.data/test-pg');
    rmSync(dir, { recursive: true, force: true });
    const embedded = await startEmbeddedPostgres(dir, await freePort(), { persistent: false });
    process.env.DATABASE_URL = embedded.url;
    (globalThis as { embeddedPostgres?: typeof embedded }).embeddedPostgres = embedded;
  }
  const db = createDataSource(process.env.DATABASE_URL!);
  await db.initialize();
  const [{ superuser }] = await db.query('SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user');
  if (!superuser) {
    await db.destroy();
    throw new Error('DATABASE_URL: the tests connect as a superuser (they read every municipality\'s rows past row-level security, and make databases and roles of their own)');
  }
  await migrate(db);
  await syncReferenceData(db);
  await db.destroy();
}
