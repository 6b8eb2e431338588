import 'reflect-metadata';
import { createInterface } from 'node:readline/promises';
import { openDatabase } from './app';
import { loadConfig } from './config';
import { InputError } from './errors';
import { Role } from './schema/enums';
import { createServices } from './services';

const USAGE = `Usage: npm run cli -- <command>

Commands:
  create-operator <loginId>   Create a system operator account (password from OPERATOR_PASSWORD or prompted)
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

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'create-operator':
      return createOperator(args[0]);
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
