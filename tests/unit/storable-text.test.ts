import path from 'node:path';
import { ended, nodeProcess } from '../helpers/node-process';

describe('variables no column can hold', () => {
  it('are looked for in a whole 1 MB of variables in a process given 64 MB of memory, and named where they are', async () => {
    // The largest body the server reads, as anyone may send it without a token: a list of 480,000
    // numbers 30 levels down, a NUL at its end. TypeScript's compiler, which runs the file, takes half of it.
    const child = nodeProcess(`
      const { unstorableVariable } = require(${JSON.stringify(path.resolve(__dirname, '../../src/validation/storable-text.ts'))});
      let variables = [...new Array(480000).fill(0), 'x\\u0000'];
      for (let i = 0; i < 30; i++) variables = { a: variables };
      const body = JSON.stringify({ variables });
      console.log(JSON.stringify(unstorableVariable(JSON.parse(body).variables)));
    `, { env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=64' } });
    const { code, out } = await ended(child);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ field: ['variables', ...new Array(30).fill('a'), '480000'], message: 'must not contain NUL characters or unpaired surrogates' });
  });
});
