import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createDataSource, migrate } from '../../src/db/data-source';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { syncReferenceData } from '../../src/db/reference-data';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

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
  await migrate(db);
  await syncReferenceData(db);
  await db.destroy();
}
