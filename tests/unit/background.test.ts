import { repeatEvery } from '../../src/services/background';
import { createLog } from '../../src/log';
import { LogLines } from '../helpers/test-app';

describe('background work', () => {
  it('stops only once the pass under way has ended, and starts none after', async () => {
    const log = new LogLines();
    let started = 0;
    let ended = 0;
    const stop = repeatEvery(0.01, 'slow pass', async () => {
      started++;
      await new Promise((r) => setTimeout(r, 200));
      ended++;
    }, createLog('info', log));
    while (started === 0) await new Promise((r) => setTimeout(r, 5));
    await stop();
    // The database may close now: no pass is left touching it.
    expect({ started, ended }).toEqual({ started: 1, ended: 1 });
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toBe(1);
    expect(log.text).toEqual([]);
  });

  it('logs once that the database cannot be reached, not at every pass, and once that it is back', async () => {
    const log = new LogLines();
    const answers = [lost(), lost(), lost(), lost(), null, lost(), null];
    let passes = 0;
    const stop = repeatEvery(0.01, 'statistics compaction', async () => {
      const answer = answers[passes++];
      if (answer) throw answer;
    }, createLog('info', log));
    while (passes < answers.length) await new Promise((r) => setTimeout(r, 5));
    await stop();
    expect(log.entries.map((e) => [e.level, e.msg, e.cause, e.err])).toEqual([
      ['warn', 'statistics compaction: the database cannot be reached; trying again every 0.01 s', 'Connection terminated unexpectedly', undefined],
      ['info', 'statistics compaction: the database is reachable again', undefined, undefined],
      ['warn', 'statistics compaction: the database cannot be reached; trying again every 0.01 s', 'Connection terminated unexpectedly', undefined],
      ['info', 'statistics compaction: the database is reachable again', undefined, undefined],
    ]);
  });

  it('still logs every other failure of a pass, with its error', async () => {
    const log = new LogLines();
    let passes = 0;
    const stop = repeatEvery(0.01, 'statistics compaction', async () => {
      passes++;
      throw new Error('division by zero');
    }, createLog('info', log));
    while (passes < 2) await new Promise((r) => setTimeout(r, 5));
    await stop();
    expect(log.entries.slice(0, 2).map((e) => [e.level, e.msg, e.err?.message])).toEqual([
      ['error', 'statistics compaction failed', 'division by zero'],
      ['error', 'statistics compaction failed', 'division by zero'],
    ]);
  });
});

/** node-postgres's error for a connection the database cut (a failover, pg_terminate_backend). */
const lost = () => new Error('Connection terminated unexpectedly');
