import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerResult, WorkerSetup, WorkerTask } from './resident-import.worker';

/** A worker thread failed in a way not meant for the officer; the import rolls back. */
export class WorkerCrash extends Error {}

/**
 * Under ts-jest the worker's TypeScript is transpiled as it is loaded (typescript is a dev
 * dependency); the built server runs the compiled JavaScript directly.
 */
function spawn(setup: WorkerSetup): Worker {
  const file = path.join(__dirname, `resident-import.worker${path.extname(__filename)}`);
  if (!file.endsWith('.ts')) return new Worker(file, { workerData: setup });
  const bootstrap = `
    const ts = require('typescript');
    const fs = require('node:fs');
    require.extensions['.ts'] = (module, filename) => {
      const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions: {
        module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true,
        experimentalDecorators: true, emitDecoratorMetadata: true } });
      module._compile(outputText, filename);
    };
    require(${JSON.stringify(file)});`;
  return new Worker(bootstrap, { eval: true, workerData: setup });
}

interface Waiting {
  resolve: (result: WorkerResult) => void;
  reject: (error: Error) => void;
}

/**
 * A few worker threads that parse, check and encrypt chunks of the file beside the database's
 * COPY. Tasks go to the least busy worker; callers await results in their own (line) order.
 */
export class StagingWorkers {
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private failure: Error | null = null;

  constructor(setup: WorkerSetup, count = Math.max(1, Math.min(2, availableParallelism()))) {
    for (let i = 0; i < count; i++) {
      const entry = { worker: spawn(setup), busy: 0 };
      entry.worker.on('message', (result: WorkerResult) => {
        entry.busy--;
        const waiting = this.waiting.get(result.seq);
        this.waiting.delete(result.seq);
        waiting?.resolve(result);
      });
      entry.worker.on('error', (error) => this.fail(error));
      entry.worker.on('exit', (code) => this.fail(new WorkerCrash(`import worker exited (code ${code})`)));
      this.workers.push(entry);
    }
  }

  run(task: WorkerTask): Promise<WorkerResult> {
    if (this.failure) return Promise.reject(this.failure);
    const entry = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    entry.busy++;
    const result = new Promise<WorkerResult>((resolve, reject) => this.waiting.set(task.seq, { resolve, reject }));
    const { text } = task.chunk;
    entry.worker.postMessage(task, text.byteOffset === 0 && text.byteLength === text.buffer.byteLength ? [text.buffer as ArrayBuffer] : []);
    return result;
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error instanceof WorkerCrash ? error : new WorkerCrash(`import worker failed: ${error.message}`);
    for (const waiting of this.waiting.values()) waiting.reject(this.failure);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.failure ??= new WorkerCrash('import workers closed');
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }
}
