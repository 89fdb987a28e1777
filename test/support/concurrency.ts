/** What tests of concurrent calls share: the error code a call ends with, and jobs spread over clients. */
import { isPoolError } from '../../lib/errors.js';
import type { PoolStore } from '../../lib/store/index.js';

/** 'ok', or the contract code of the PoolError the call failed with (anything else is rethrown). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isPoolError(e)) return e.code;
    throw e;
  }
}

/** Runs `work` on every job, the clients at once, each client pulling the next job from one queue. */
export async function spread<J, R>(jobs: J[], clients: PoolStore[], work: (s: PoolStore, j: J) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    clients.map(async (s) => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await work(s, jobs[i]);
      }
    }),
  );
  return results;
}
