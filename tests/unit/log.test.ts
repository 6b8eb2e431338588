import { createLog, withRequest } from '../../src/log';
import { LogLines } from '../helpers/test-app';

/** An error as node-postgres reports a failed statement, and TypeORM wraps it: its row values in detail, where, internalQuery and parameters. */
function databaseError(): Error {
  const driverError = Object.assign(new Error('new row for relation "resident" violates check constraint "resident_birth_date_check"'), {
    code: '23514', constraint: 'resident_birth_date_check', table: 'resident',
    detail: 'Failing row contains (123456789018, 山田, 1899-12-31).', where: 'COPY import_staging, line 2: "123456789018,山田"', internalQuery: 'SELECT 123456789018',
  });
  return Object.assign(new Error(driverError.message, { cause: driverError }), {
    name: 'QueryFailedError', query: 'INSERT INTO resident VALUES ($1, $2, $3)', parameters: ['123456789018', '山田', '1899-12-31'],
    driverError, code: driverError.code, detail: driverError.detail, where: driverError.where,
  });
}

describe('server log', () => {
  it('writes an error with its type, message, code and constraint, and none of the row values PostgreSQL put in it', () => {
    const lines = new LogLines();
    createLog('info', lines).error({ err: databaseError() }, 'request failed');
    expect(lines.text).toHaveLength(1);
    const [entry] = lines.entries;
    expect(entry).toMatchObject({
      level: 'error', msg: 'request failed', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      err: { type: 'Error', message: expect.stringContaining('violates check constraint'), code: '23514', query: 'INSERT INTO resident VALUES ($1, $2, $3)', driverError: { constraint: 'resident_birth_date_check', table: 'resident' } },
    });
    for (const leak of ['123456789018', '山田', '1899-12-31', 'Failing row', 'COPY import_staging', '"detail"', '"where"', '"parameters"', '"internalQuery"']) {
      expect(lines.text[0]).not.toContain(leak);
    }
  });

  it('leaves out the value a data exception quotes, in its message, its wrappers\' and the stacks', () => {
    const driverError = Object.assign(new Error('invalid input syntax for type date: "1990-13-01 山田"'), { code: '22007' });
    const wrapped = Object.assign(new Error(driverError.message), { name: 'QueryFailedError', code: driverError.code, driverError });
    const lines = new LogLines();
    const log = createLog('info', lines);
    log.error({ err: wrapped }, 'request failed');
    log.error({ err: new Error('import failed', { cause: driverError }) }, 'import failed');
    // Quotes in another error's message name tables and constraints: they stay.
    log.error({ err: Object.assign(new Error('duplicate key value violates unique constraint "resident_pk"'), { code: '23505' }) }, 'commit failed');
    expect(lines.entries.map((e) => (e.err as { message: string }).message)).toEqual([
      'invalid input syntax for type date: "…"',
      expect.stringMatching(/^import failed.*invalid input syntax for type date: "…"$/s),
      'duplicate key value violates unique constraint "resident_pk"',
    ]);
    for (const text of lines.text.slice(0, 2)) for (const leak of ['1990-13-01', '山田']) expect(text).not.toContain(leak);
  });

  it('names the request a line is written for, and only while it is served', async () => {
    const lines = new LogLines();
    const log = createLog('info', lines);
    await withRequest({ requestId: 'r-1', municipalityCode: '131016' }, async () => {
      await Promise.resolve();
      log.warn({ event: 'security_alert', municipalityCode: null }, 'security alert');
    });
    log.info('outside');
    expect(lines.entries.map(({ requestId, municipalityCode, msg }) => ({ requestId, municipalityCode, msg }))).toEqual([
      // A line's own field wins over the request's.
      { requestId: 'r-1', municipalityCode: null, msg: 'security alert' },
      { requestId: undefined, municipalityCode: undefined, msg: 'outside' },
    ]);
  });

  it('writes nothing below its level', () => {
    const lines = new LogLines();
    const log = createLog('warn', lines);
    log.info('routine');
    log.warn('worth a look');
    expect(lines.entries.map((e) => [e.level, e.msg])).toEqual([['warn', 'worth a look']]);
  });
});
