import { patiently } from '../db/pg-client';
import { Log } from '../log';

/**
 * Runs `work` every `seconds` in the background, never two at once, and logs a failure as `what`
 * failed; returns the function that stops it. 0 seconds: never. No request waits on it: it waits
 * for a database connection as long as it takes.
 */
export function repeatEvery(seconds: number, what: string, work: () => Promise<unknown>, log: Log): () => void {
  if (seconds <= 0) return () => undefined;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    patiently(work)
      .catch((error: unknown) => log.error({ err: error }, `${what} failed`))
      .finally(() => {
        running = false;
      });
  }, seconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
