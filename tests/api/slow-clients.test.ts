import { connect } from 'node:net';
import { Channel } from '../../src/schema/enums';
import { TestApp } from '../helpers/test-app';

// Longer than every bound below: a connection closed within them was not closed for its silence.
const IDLE_SECONDS = 120;

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start({ idleSeconds: IDLE_SECONDS });
});
afterAll(() => t.stop());

/**
 * Sends `head` on a raw connection to `channel`'s listener, then (unless told not to drip) a byte a
 * second for as long as the connection stays open (at most `ms`): what the server answered, and
 * after how long it closed the connection (null if it had not within `ms`).
 */
function trickle(channel: Channel, head: string, ms: number, drip = true): Promise<{ answer: string; closedAfter: number | null }> {
  const { hostname, port } = new URL(t.url(channel));
  const started = Date.now();
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(Number(port), hostname, () => socket.write(head));
    const dripping = setInterval(() => drip && socket.write('x'), 1000);
    const end = (closedAfter: number | null) => {
      clearInterval(dripping);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ answer: answer.split('\r\n')[0], closedAfter });
    };
    const giveUp = setTimeout(() => end(null), ms);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => end(Date.now() - started));
  });
}

describe('a client that goes on sending a body the server answered without reading, a byte a second', () => {
  it('is cut off a few seconds after its answer, on both listeners, whatever the path', async () => {
    const post = (path: string) => `POST ${path} HTTP/1.1\r\nhost: x\r\nx-forwarded-for: ${t.address}\r\ncontent-type: text/csv\r\ncontent-length: 100000000\r\n\r\n`;
    const heads = [
      post('/imports/residents'), // no token: 401
      post('/nothing'), // 404
      `GET /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\n`,
    ];
    const results = await Promise.all([Channel.LGWAN, Channel.INTERNET].flatMap((channel) => heads.map((head) => trickle(channel, head, 20_000))));
    expect(results.map((r) => r.answer)).toEqual([
      'HTTP/1.1 401 Unauthorized', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 200 OK',
      'HTTP/1.1 401 Unauthorized', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 200 OK',
    ]);
    for (const { closedAfter } of results) {
      expect(closedAfter).not.toBeNull();
      expect(closedAfter).toBeLessThan(10_000);
    }
    expect(t.log.at('error')).toEqual([]);
  });

  it('is not cut off when it sends the rest at once, and its connection serves the next request', async () => {
    const { hostname, port } = new URL(t.url(Channel.LGWAN));
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.write('POST /nothing HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.write('abcd');
    // Past the time an unread body gets, each request within Node's keep-alive timeout (5 s) of the answer before.
    for (const wait of [3_000, 3_000]) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(socket.destroyed).toBe(false);
    socket.destroy();
    expect(received.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 404', 'HTTP/1.1 200', 'HTTP/1.1 200']);
  });
});

describe('a client that sends no whole request head', () => {
  it('is answered 408 and cut off 60 s after it connected, sending nothing or its headers a byte a second, on both listeners', async () => {
    const results = await Promise.all([Channel.LGWAN, Channel.INTERNET].flatMap((channel) => [
      trickle(channel, '', 75_000, false),
      trickle(channel, 'POST /graphql HTTP/1.1\r\nhost: x\r\nx-long-header: ', 75_000),
    ]));
    for (const { answer, closedAfter } of results) {
      expect(answer).toBe('HTTP/1.1 408 Request Timeout');
      expect(closedAfter).toBeGreaterThanOrEqual(60_000 - 100);
      expect(closedAfter).toBeLessThan(63_000);
    }
  }, 90_000);
});
