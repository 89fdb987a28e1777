/**
 * Leases, as rules: how long one may be, when it ends, and who records its expiry. Pure: the store
 * keeps a lease on the allocation record and releases it once run out (lib/store/expire.ts).
 */
import { PoolError } from './errors.js';

export const MIN_LEASE_SECONDS = 60;
/** A year. */
export const MAX_LEASE_SECONDS = 31_536_000;
export const LEASE_RULE = `a whole number of seconds from ${MIN_LEASE_SECONDS} to ${MAX_LEASE_SECONDS.toLocaleString('en-US')}`;

/** The `by` of an `expired` history entry: nobody asked, the service released it. */
export const LEASE_SWEEPER = 'lease-sweeper';

/** What is wrong with a lease length, if anything. */
export function leaseIssue(seconds: unknown): string | undefined {
  if (typeof seconds === 'number' && Number.isInteger(seconds) && seconds >= MIN_LEASE_SECONDS && seconds <= MAX_LEASE_SECONDS) return undefined;
  return `lease_seconds must be ${LEASE_RULE}; got ${JSON.stringify(seconds)?.slice(0, 48) ?? String(seconds)}`;
}

/** INVALID_ARGUMENT naming lease_seconds and its range, for callers that did not validate it (the store's). */
export function checkLease(seconds: number | undefined): void {
  if (seconds === undefined) return;
  const issue = leaseIssue(seconds);
  if (issue) throw new PoolError('INVALID_ARGUMENT', issue);
}

/** When a lease of `seconds` taken at `now` runs out, as the ISO time the allocation shows. */
export function leaseEnd(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}
