import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildBareSchema, printSortedSchema } from './build-schema';

/** Writes src/schema/schema.graphql, the committed record of the public API. */
export const SCHEMA_FILE = path.resolve('src/schema/schema.graphql');

if (require.main === module) {
  writeFileSync(process.argv[2] ?? SCHEMA_FILE, printSortedSchema(buildBareSchema()));
}
