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
});
