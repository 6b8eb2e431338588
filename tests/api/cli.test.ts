import { randomBytes, randomInt } from 'node:crypto';
import { createOperator, verifyAudit } from '../../src/cli';
import { Channel } from '../../src/schema/enums';
import { codes, TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
  // The CLI reads its configuration from the environment, as on a production host.
  process.env.MASTER_KEY = randomBytes(32).toString('base64');
  process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
});
afterAll(() => t.stop());

describe('operator command line', () => {
  it('creates the first operator on a database given by DATABASE_URL, who can then sign in', async () => {
    const loginId = `first-operator-${randomInt(1e9)}`;
    process.env.OPERATOR_PASSWORD = 'a-long-operator-password';
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await createOperator(loginId);
      expect(log).toHaveBeenCalledWith(expect.stringContaining(`Created operator ${loginId}`));
    } finally {
      log.mockRestore();
    }
    expect(codes(await t.login(Channel.LGWAN, loginId, 'a-long-operator-password'))).toEqual([]);
    await expect(createOperator(loginId)).rejects.toMatchObject({ errors: [{ field: ['input', 'loginId'], code: 'DUPLICATE' }] });
  });

  it('verifies the operation log and reports it intact', async () => {
    const { code } = await t.tenant();
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await verifyAudit(code);
      expect(log).toHaveBeenCalledWith(expect.stringMatching(/^Operation log intact: \d+ events verified\.$/));
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      log.mockRestore();
    }
  });
});
