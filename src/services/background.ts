import { patiently } from '../db/pg-client';
import { Log } from '../log';

/**
 * Runs `work` every `seconds` in the background, never two at once, and logs a failure as `what`
 * failed; returns the function that stops it, which resolves once a pass under way has ended, so
 * that a stopping server closes its database only after. 0 seconds: never. No request waits on it:
 * it waits for a database connection as long as it takes.
 */
export function repeatEvery(seconds: number, what: string, work: () => Promise<unknown>, log: Log): () => Promise<void> {
  if (seconds <= 0) return async () => undefined;
  let pass: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (pass) return;
    pass = patiently(work)
      .then(() => undefined, (error: unknown) => log.error({ err: error }, `${what} failed`))
      .finally(() => {
        pass = null;
      });
  }, seconds * 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await pass;
  };
}
