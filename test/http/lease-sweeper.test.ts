// The lease sweeper's Lambda adapter (functions/lease-sweeper.ts) on DynamoDB Local: one run releases
// what ran out and logs it; a run that could not release a record (throttled throughout) fails, so
// that the function's errors alarm sees it, leaves the record held, and the next run releases it.
// Also the local stack's timer (local/stack.ts), which runs the same store call.
import { describe, expect, test, vi } from 'vitest';
import { startLeaseTimer } from '../../local/stack.js';
import { sweepLeases } from '../../functions/lease-sweeper.js';
import { isPoolError } from '../../lib/errors.js';
import { interceptedClient, throttling } from '../support/faults.js';
import { freshStore, register, storeOn } from '../support/store.js';

const POOL = '[pools.p]\ntype = "integer"\nranges = [{ start = 1, end = 100 }]';
const T0 = Date.now() - 3_600_000;

function capture() {
  const lines: { message: string; extra: Record<string, unknown> }[] = [];
  return { lines, info: (message: string, extra: Record<string, unknown>) => void lines.push({ message, extra }) };
}

describe('lease sweeper function', () => {
  test('a run releases the leases that ran out, and logs what it released', async () => {
    let seconds = 0;
    const store = await freshStore({ now: () => new Date(T0 + seconds * 1000) });
    await register(store, POOL);
    await store.allocate({ pool: 'p', owner: 'short', leaseSeconds: 60 });
    await store.allocate({ pool: 'p', owner: 'long', leaseSeconds: 600 });
    seconds = 120;
    const logger = capture();
    expect(await sweepLeases({ store, logger })).toEqual({ expired: 1, failed: 0, more: false });
    expect(logger.lines).toEqual([{ message: 'leases swept', extra: { expired: 1, failed: 0, more: false, released: [{ pool: 'p', owner: 'short', expires_at: new Date(T0 + 60_000).toISOString() }] } }]);
    expect(isPoolError(await store.findByOwner('p', 'short').catch((x: unknown) => x), 'NOT_ALLOCATED')).toBe(true);
    expect((await store.findByOwner('p', 'long')).owner).toBe('long');
    // Nothing left: the next run releases nothing and succeeds.
    expect(await sweepLeases({ store, logger: capture() })).toEqual({ expired: 0, failed: 0, more: false });
  });

  test('a run whose transactions are all throttled fails, releases nothing, and the next run releases it', async () => {
    const now = () => new Date(T0 + 120_000);
    const store = await freshStore({ now: () => new Date(T0) });
    await register(store, POOL);
    await store.allocate({ pool: 'p', owner: 'vm', leaseSeconds: 60 });
    const throttled = storeOn(store.tableName, {
      now,
      budgetMs: 2000,
      retry: { maxAttempts: 3 },
      client: interceptedClient(async (command, _input, send) => (command === 'TransactWriteItemsCommand' ? Promise.reject(throttling()) : send())),
    });
    const logger = capture();
    const e = await sweepLeases({ store: throttled, logger }).catch((x: unknown) => x);
    expect((e as Error).message).toContain('1 expired lease(s) could not be released in this run');
    expect(logger.lines[0].extra).toMatchObject({ expired: 0, failed: 1 });
    expect((await store.findByOwner('p', 'vm')).owner).toBe('vm');
    expect(await sweepLeases({ store: storeOn(store.tableName, { now }), logger: capture() })).toMatchObject({ expired: 1, failed: 0 });
    const gone = await store.findByOwner('p', 'vm').catch((x: unknown) => x);
    expect(isPoolError(gone, 'NOT_ALLOCATED')).toBe(true);
  });

  test("the local stack's timer releases what ran out, says so, and once stopped runs no more", async () => {
    const store = await freshStore({ now: () => new Date(T0) });
    await register(store, POOL);
    await store.allocate({ pool: 'p', owner: 'vm', leaseSeconds: 60 });
    const later = storeOn(store.tableName, { now: () => new Date(T0 + 120_000) });
    const lines: string[] = [];
    const stop = startLeaseTimer(later, { info: (l) => void lines.push(l), error: (l) => void lines.push(`error: ${l}`) }, 50);
    await vi.waitFor(() => expect(lines).toEqual(['leases: released 1 that ran out (p/vm)']), { timeout: 30_000, interval: 50 });
    await stop();
    expect(isPoolError(await store.findByOwner('p', 'vm').catch((x: unknown) => x), 'NOT_ALLOCATED')).toBe(true);
    // Stopped: a lease that runs out now is left alone.
    await store.allocate({ pool: 'p', owner: 'vm-2', leaseSeconds: 60 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await store.findByOwner('p', 'vm-2')).owner).toBe('vm-2');
    expect(lines).toHaveLength(1);
  });
});
