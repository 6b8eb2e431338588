import { connectionLost, patiently } from '../db/pg-client';
import { Log } from '../log';

/**
 * Runs `work` every `seconds` in the background, never two at once, and logs a failure as `what`
 * failed; returns the function that stops it, which resolves once a pass under way has ended, so
 * that a stopping server closes its database only after. 0 seconds: never. No request waits on it:
 * it waits for a database connection as long as it takes. While the database cannot be reached (a
 * failover, a restart), that is logged once, and again once a pass succeeds, not at every pass.
 */
export function repeatEvery(seconds: number, what: string, work: () => Promise<unknown>, log: Log): () => Promise<void> {
  if (seconds <= 0) return async () => undefined;
  let pass: Promise<void> | null = null;
  let away = false;
  const timer = setInterval(() => {
    if (pass) return;
    pass = patiently(work)
      .then(() => {
        if (away) log.info(`${what}: the database is reachable again`);
        away = false;
      }, (error: unknown) => {
        if (!connectionLost(error)) return log.error({ err: error }, `${what} failed`);
        if (!away) log.warn({ cause: (error as Error).message }, `${what}: the database cannot be reached; trying again every ${seconds} s`);
        away = true;
      })
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
