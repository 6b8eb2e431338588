import 'reflect-metadata';
import { parentPort, workerData } from 'node:worker_threads';
import { DerivedKeys, TenantKeys } from '../crypto/tenant-keys';
import { Chunk, ChunkFailure, RecordEnd, stageChunk } from './resident-import.chunk';
import { Layout, RowRules } from './resident-import.layout';

/** What a worker is started with: the tenant's derived keys only, never the master key. */
export interface WorkerSetup {
  keys: DerivedKeys;
  rules: RowRules;
  /** Fault injection for tests: the worker throws on the chunk holding this line. */
  faultAtLine: number | null;
}

export interface WorkerTask {
  seq: number;
  chunk: Chunk;
  end: RecordEnd | null;
  layout: Layout;
}

export type WorkerResult =
  | { seq: number; ok: true; copy: Uint8Array; rowsRead: number; rowsRejected: number }
  | { seq: number; ok: false; failure: string | null; detail: string };

const setup = workerData as WorkerSetup;
const keys = TenantKeys.fromDerived(setup.keys);

parentPort!.on('message', (task: WorkerTask) => {
  let result: WorkerResult;
  try {
    if (setup.faultAtLine !== null && task.chunk.firstLine <= setup.faultAtLine) {
      const lines = Buffer.from(task.chunk.text).toString('utf8').split('\n').length;
      if (setup.faultAtLine < task.chunk.firstLine + lines) throw new Error('injected worker fault');
    }
    const staged = stageChunk(task.chunk, task.end, task.layout, keys, setup.rules);
    const copy = Buffer.from(staged.copy);
    result = { seq: task.seq, ok: true, copy, rowsRead: staged.rowsRead, rowsRejected: staged.rowsRejected };
    parentPort!.postMessage(result, copy.byteOffset === 0 && copy.byteLength === copy.buffer.byteLength ? [copy.buffer] : []);
  } catch (error) {
    // Only a ChunkFailure's message is meant for the officer; the rest is for the service's log.
    result = { seq: task.seq, ok: false, failure: error instanceof ChunkFailure ? error.message : null, detail: (error as Error)?.stack ?? String(error) };
    parentPort!.postMessage(result);
  }
});
