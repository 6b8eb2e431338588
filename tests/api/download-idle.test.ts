import { connect } from 'node:net';
import { Transform } from 'node:stream';
import { Channel } from '../../src/schema/enums';
import { blockedBy, registerResident, TestApp } from '../helpers/test-app';

const IDLE_SECONDS = 3;

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start({ idleSeconds: IDLE_SECONDS });
});
afterAll(() => t.stop());

/** A megabyte of CSV lines, sent again and again: far more than the socket buffers on either side hold. */
const MEGABYTE = Buffer.from('x,'.repeat(63).concat('x\n').repeat(8192));
const bigExport = () => new Transform({
  transform: (chunk, _enc, done) => done(null, chunk),
  flush(done) {
    for (let i = 0; i < 200; i++) this.push(MEGABYTE);
    done();
  },
});

/** Starts a download on a raw connection, reads `bytes` of it and stops reading; resolves when it stopped. */
function readAndStop(token: string, bytes: number): Promise<{ stoppedAt: number; head: string }> {
  const { hostname, port } = new URL(t.url(Channel.LGWAN));
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  socket.write(`GET /exports/vaccination-records.csv HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${token}\r\nx-forwarded-for: ${t.address}\r\n\r\n`);
  return new Promise((resolve) => {
    let read = 0;
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (!head) head = chunk.subarray(0, 12).toString();
      read += chunk.length;
      if (read >= bytes) {
        socket.pause();
        resolve({ stoppedAt: Date.now(), head });
      }
    });
  });
}

const exportEvents = (code: string) =>
  t.db.query(`SELECT outcome FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccinationRecord.export' ORDER BY id`, [code]);

describe('a download whose client stops reading', () => {
  it('is cut off IDLE_SECONDS after the last byte moved, not twice that, and gives back its database connection and its slot', async () => {
    const { code, officer } = await t.tenant();
    t.app.services.exports.faultStage = bigExport;
    let cutAfter: number;
    try {
      const { stoppedAt, head } = await readAndStop(officer.token, 1024 * 1024);
      expect(head).toBe('HTTP/1.1 200');
      // The export logs its failure once its connection is cut.
      for (;;) {
        if ((await exportEvents(code)).length > 0) break;
        if (Date.now() - stoppedAt > 4 * IDLE_SECONDS * 1000) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      cutAfter = Date.now() - stoppedAt;
    } finally {
      t.app.services.exports.faultStage = null;
    }
    expect(await exportEvents(code)).toEqual([{ outcome: 'FAILURE' }]);
    // Filling the buffers after the client stopped takes a moment; a second round of IDLE_SECONDS is far more.
    expect(cutAfter).toBeGreaterThanOrEqual(IDLE_SECONDS * 1000 - 100);
    expect(cutAfter).toBeLessThan(IDLE_SECONDS * 1000 * 1.5);
    const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%' AND query LIKE $1`, [`%'${code}'%`]);
    expect(n).toBe(0);
    // Both of the municipality's download slots are free again.
    const again = await Promise.all([1, 2].map(() => fetch(`${t.url(Channel.LGWAN).replace(/\/graphql$/, '')}/exports/vaccination-records.csv`, {
      headers: { authorization: `Bearer ${officer.token}`, 'x-forwarded-for': t.address },
    })));
    expect(again.map((r) => r.status)).toEqual([200, 200]);
    await Promise.all(again.map((r) => r.arrayBuffer()));
  });
});

describe('a request the server takes longer than IDLE_SECONDS to answer', () => {
  it('is answered, not cut off: the silence is the server\'s own (a city\'s whole ticket issuance runs for minutes)', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    await registerResident(officer);
    // A transaction of the test's own holds a resident, so that the issuance works without a byte for longer than IDLE_SECONDS.
    const holder = t.db.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('SELECT 1 FROM resident WHERE id = $1 FOR UPDATE', [id]);
    let answer: Promise<Response>;
    try {
      answer = fetch(t.url(Channel.LGWAN), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': t.address, authorization: `Bearer ${officer.token}` },
        body: JSON.stringify({ query: 'mutation { issueTickets(input: { series: "1-2", allActiveResidents: true }) { issuedCount userErrors { code } } }' }),
      });
      answer.catch(() => undefined);
      await blockedBy(t.db, holder);
      await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000 * 1.5));
    } finally {
      await holder.commitTransaction();
      await holder.release();
    }
    const response = await answer;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { issueTickets: { issuedCount: 2, userErrors: [] } } });
    expect(await t.db.query('SELECT count(*)::int AS n FROM ticket WHERE municipality_code = $1', [code])).toEqual([{ n: 2 }]);
  });
});
