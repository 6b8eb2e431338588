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

async function createOperator(loginId: string | undefined): Promise<void> {
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

async function verifyAudit(chain: string | undefined): Promise<void> {
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

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'create-operator':
      return createOperator(args[0]);
    case 'verify-audit':
      return verifyAudit(args[0]);
    case 'archive-audit':
      return archiveAudit();
    default:
      console.log(USAGE);
      process.exitCode = command ? 2 : 0;
  }
}

main().catch((error) => {
  if (error instanceof InputError) console.error(error.errors.map((e) => `${e.field.join('.')}: ${e.message}`).join('\n'));
  else console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
