import 'reflect-metadata';
import { createInterface } from 'node:readline/promises';
import { openDatabase } from './app';
import { loadConfig } from './config';
import { InputError } from './errors';
import { Role } from './schema/enums';
import { createServices } from './services';
import { archiveAuditEvents, verifyAuditChain } from './services/audit.service';

const USAGE = `Usage: npm run cli -- <command>

Commands:
  create-operator <loginId>   Create a system operator account (password from OPERATOR_PASSWORD or prompted)
  verify-audit [chain]        Verify the operation log's hash chains (one municipality code, or all);
                              exits 1 and names the first broken event if any
  archive-audit               Move events older than AUDIT_RETENTION_DAYS (default 3653) to the archive
  rotate-tenant-key <code>    Start a new data key for one municipality and re-encrypt its My Numbers
  rotate-master-key           Re-wrap every data key under NEW_MASTER_KEY (MASTER_KEY = the current one)
`;

async function readPassword(): Promise<string> {
  if (process.env.OPERATOR_PASSWORD) return process.env.OPERATOR_PASSWORD;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question('Password (at least 12 characters): ');
  } finally {
    rl.close();
  }
}

export async function createOperator(loginId: string | undefined): Promise<void> {
  if (!loginId) throw new Error(USAGE);
  const password = await readPassword();
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const services = createServices(database.db, config);
    const account = await services.accounts.create(
      { requestId: 'cli', channel: 'CLI', actor: null },
      { loginId, password, role: Role.OPERATOR, displayName: `Operator ${loginId}` },
    );
    console.log(`Created operator ${account.loginId} (${account.id}).`);
  } finally {
    await database.close();
  }
}

/** Opens the configured database for one command and closes it afterwards. */
async function withDatabase<T>(run: (database: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const database = await openDatabase(loadConfig());
  try {
    return await run(database);
  } finally {
    await database.close();
  }
}

export async function verifyAudit(chain: string | undefined): Promise<void> {
  const { checked, broken } = await withDatabase(({ db }) => verifyAuditChain(db.manager, chain));
  if (!broken) {
    console.log(`Operation log intact: ${checked} events verified.`);
    return;
  }
  console.error(`Operation log BROKEN at event ${broken.id} (chain ${broken.chain}, position ${broken.seq}): ${broken.reason}. ${checked} events checked.`);
  process.exitCode = 1;
}

async function archiveAudit(): Promise<void> {
  const days = Number(process.env.AUDIT_RETENTION_DAYS ?? 3653);
  if (!Number.isInteger(days) || days < 1) throw new Error('AUDIT_RETENTION_DAYS must be a positive whole number');
  const cutoff = new Date(Date.now() - days * 86_400_000);
  const moved = await withDatabase(({ db }) => archiveAuditEvents(db.manager, cutoff));
  console.log(`Archived ${moved} events older than ${cutoff.toISOString()}.`);
}

async function rotateTenantKey(code: string | undefined): Promise<void> {
  if (!code) throw new Error(USAGE);
  const config = loadConfig();
  const result = await withDatabase(({ db }) => createServices(db, config).keyRotation.rotateTenantKey(code));
  console.log(`Municipality ${code} now writes with key version ${result.version}; ${result.reencrypted} residents re-encrypted.`);
}

async function rotateMasterKey(): Promise<void> {
  const next = Buffer.from(process.env.NEW_MASTER_KEY ?? '', 'base64');
  if (next.length !== 32) throw new Error('NEW_MASTER_KEY must be 32 bytes encoded in base64');
  const config = loadConfig();
  const count = await withDatabase(({ db }) => createServices(db, config).keyRotation.rotateMasterKey(next));
  console.log(`Re-wrapped ${count} data keys. Restart servers with MASTER_KEY=<new key> (PREVIOUS_MASTER_KEY=<old key> is accepted meanwhile).`);
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'create-operator':
      return createOperator(args[0]);
    case 'verify-audit':
      return verifyAudit(args[0]);
    case 'archive-audit':
      return archiveAudit();
    case 'rotate-tenant-key':
      return rotateTenantKey(args[0]);
    case 'rotate-master-key':
      return rotateMasterKey();
    default:
      console.log(USAGE);
      process.exitCode = command ? 2 : 0;
  }
}

if (require.main === module) {
  main().catch((error) => {
    if (error instanceof InputError) console.error(error.errors.map((e) => `${e.field.join('.')}: ${e.message}`).join('\n'));
    else console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
