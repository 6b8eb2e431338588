import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config';

describe('configuration', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    process.env.DATABASE_URL = 'postgres://vrs@localhost/vrs';
    process.env.MASTER_KEY = randomBytes(32).toString('base64');
    process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
    delete process.env.IDLE_SECONDS;
    delete process.env.LGWAN_IDLE_SECONDS;
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it('reads the idle limit as IDLE_SECONDS, or under its former name LGWAN_IDLE_SECONDS', () => {
    expect(loadConfig().idleSeconds).toBe(120);
    process.env.LGWAN_IDLE_SECONDS = '300';
    expect(loadConfig().idleSeconds).toBe(300);
    process.env.IDLE_SECONDS = '45';
    expect(loadConfig().idleSeconds).toBe(45);
  });
});
