/**
 * Faults DynamoDB Local cannot produce, injected into the SDK's middleware stack in front of a real
 * DynamoDB Local: throttling, transaction conflicts, another writer between our read and our write,
 * and a transaction that lands while its answer is lost. Whatever happens: no partial state, no
 * double allocation, and UNAVAILABLE only when nothing was changed.
 */
import {
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import { PoolStore } from '../../lib/store/index.js';
import { freshStore, register, storeOn, TEST_BUDGET_MS, testClient } from '../support/store.js';

type Fault = (send: () => Promise<unknown>, call: number) => Promise<unknown>;

/** A client whose TransactWriteItems calls pass through `fault`, numbered from 1. */
function faultyClient(fault: Fault): { client: DynamoDBClient; calls: () => number } {
  const client = testClient();
  let calls = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      calls++;
      return (await fault(() => next(args), calls)) as Awaited<ReturnType<typeof next>>;
    },
    // Before the SDK's own retries: the store's retry logic is what is under test.
    { step: 'initialize', name: 'injectFault' },
  );
  return { client, calls: () => calls };
}

const throttled = () => new ProvisionedThroughputExceededException({ message: 'injected throttle', $metadata: {} });
const lostAnswer = () => Object.assign(new Error('injected: socket hang up after the request was sent'), { name: 'TimeoutError' });
const conflict = () =>
  new TransactionCanceledException({
    message: 'injected: Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]',
    $metadata: {},
    CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
  });

async function setup(size = 8) {
  const store = await freshStore();
  // From 96, a multiple of 8: the first eight values are exactly one chunk (chunks are aligned in value space).
  await register(store, `[pools.p]\ntype = "integer"\nranges = [{ start = 96, end = ${96 + size} }]`);
  return store;
}

function on(store: PoolStore, client: DynamoDBClient, retries: string[] = []): PoolStore {
  return new PoolStore({
    client,
    tableName: store.tableName,
    budgetMs: TEST_BUDGET_MS,
    retry: { maxAttempts: 6, baseDelayMs: 1, maxDelayMs: 5 },
    events: { retry: (reason) => void retries.push(reason) },
  });
}

describe('injected faults', () => {
  test('throttled transactions are retried, and the allocation lands once', async () => {
    const store = await setup();
    const retries: string[] = [];
    const { client, calls } = faultyClient(async (send, n) => {
      if (n <= 3) throw throttled();
      return send();
    });
    const { allocation, created } = await on(store, client, retries).allocate({ pool: 'p', owner: 'a' });
    expect(created).toBe(true);
    expect(calls()).toBe(4);
    expect(retries).toEqual(['throttled', 'throttled', 'throttled']);
    expect(await store.findByOwner('p', 'a')).toEqual(allocation);
    expect(await store.pool('p')).toMatchObject({ used: 1 });
    expect((await store.check()).ok).toBe(true);
  });

  test('transaction conflicts (real DynamoDB only) are retried', async () => {
    const store = await setup();
    const retries: string[] = [];
    const { client } = faultyClient(async (send, n) => {
      if (n <= 2) throw conflict();
      return send();
    });
    await on(store, client, retries).allocate({ pool: 'p', owner: 'a' });
    expect(retries).toEqual(['contention', 'contention']);
    expect(await store.pool('p')).toMatchObject({ used: 1 });
    expect((await store.check()).ok).toBe(true);
  });

  test('throttling that outlasts the retries answers UNAVAILABLE and changes nothing', async () => {
    const store = await setup();
    const { client, calls } = faultyClient(async () => {
      throw throttled();
    });
    const err = await on(store, client).allocate({ pool: 'p', owner: 'a' }).catch((e) => e);
    expect(isPoolError(err, 'UNAVAILABLE')).toBe(true);
    expect(err.retryAfterSeconds).toBeGreaterThan(0);
    expect(calls()).toBe(6);
    expect(await store.pool('p')).toMatchObject({ used: 0 });
    expect(await store.allocations('p', { limit: 10 })).toEqual({ allocations: [], last: undefined });
    expect((await store.check()).ok).toBe(true);

    await store.allocate({ pool: 'p', owner: 'b' });
    const release = await on(store, client).release({ pool: 'p', owner: 'b' }).catch((e) => e);
    expect(isPoolError(release, 'UNAVAILABLE')).toBe(true);
    expect(await store.pool('p')).toMatchObject({ used: 1 });
    expect((await store.check()).ok).toBe(true);
  });

  test('another writer between our read and our write: we choose again, nothing is given twice', async () => {
    // One chunk of eight values: any other allocation moves the chunk we read.
    const store = await setup(8);
    const other = storeOn(store.tableName);
    const intruders: bigint[] = [];
    const { client, calls } = faultyClient(async (send, n) => {
      if (n <= 3) intruders.push((await other.allocate({ pool: 'p', owner: `intruder-${n}` })).allocation.value);
      return send();
    });
    const retries: string[] = [];
    const mine = (await on(store, client, retries).allocate({ pool: 'p', owner: 'me' })).allocation.value;
    expect(calls()).toBe(4);
    expect(retries).toEqual(['contention', 'contention', 'contention']);
    expect(new Set([mine, ...intruders]).size).toBe(4);
    expect(await store.pool('p')).toMatchObject({ used: 4 });
    expect((await store.check()).ok).toBe(true);
  });

  test('an explicit value taken between our read and our write is VALUE_IN_USE, not a double allocation', async () => {
    const store = await setup(8);
    const other = storeOn(store.tableName);
    const { client } = faultyClient(async (send, n) => {
      if (n === 1) await other.allocate({ pool: 'p', owner: 'quicker', value: () => ({ ok: true, value: 103n }) });
      return send();
    });
    const err = await on(store, client)
      .allocate({ pool: 'p', owner: 'slower', value: () => ({ ok: true, value: 103n }) })
      .catch((e) => e);
    expect(isPoolError(err, 'VALUE_IN_USE')).toBe(true);
    expect((await store.findByValue('p', () => ({ ok: true, value: 103n }))).owner).toBe('quicker');
    expect((await store.check()).ok).toBe(true);
  });

  test('a transaction that lands while its answer is lost is found out: one value, reported as created', async () => {
    const store = await setup();
    const { client, calls } = faultyClient(async (send, n) => {
      const out = await send();
      if (n === 1) throw lostAnswer();
      return out;
    });
    const retries: string[] = [];
    const { allocation, created } = await on(store, client, retries).allocate({ pool: 'p', owner: 'a' });
    expect(created).toBe(true);
    expect(calls()).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toBe('ambiguous');
    expect(await store.findByOwner('p', 'a')).toEqual(allocation);
    expect(await store.pool('p')).toMatchObject({ used: 1 });
    expect((await store.check()).ok).toBe(true);
  });

  test('every answer lost: the owner record still tells the truth', async () => {
    const store = await setup();
    const { client } = faultyClient(async (send) => {
      await send().catch(() => undefined);
      throw lostAnswer();
    });
    const faulty = on(store, client);
    const { allocation, created } = await faulty.allocate({ pool: 'p', owner: 'a' });
    expect(created).toBe(true);
    expect(await store.findByOwner('p', 'a')).toEqual(allocation);
    // Releasing through the same faults: the release lands, and is known to have landed.
    await faulty.release({ pool: 'p', owner: 'a' });
    expect(await store.pool('p')).toMatchObject({ used: 0 });
    expect((await store.check()).ok).toBe(true);
  });

  test('a release whose answer is lost is not done twice and not reported as failed', async () => {
    const store = await setup();
    await store.allocate({ pool: 'p', owner: 'a' });
    const { client } = faultyClient(async (send, n) => {
      const out = await send();
      if (n === 1) throw lostAnswer();
      return out;
    });
    await on(store, client).release({ pool: 'p', owner: 'a' });
    expect(await store.pool('p')).toMatchObject({ used: 0 });
    expect((await store.check()).ok).toBe(true);
  });

  test('faults at random under concurrency: every acknowledged value is held once, check agrees', async () => {
    const store = await setup(96);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const stores = Array.from({ length: 8 }, () => {
      const { client } = faultyClient(async (send) => {
        const r = rand();
        if (r < 0.15) throw throttled();
        if (r < 0.25) throw conflict();
        if (r < 0.35) {
          await send();
          throw lostAnswer();
        }
        return send();
      });
      return new PoolStore({ client, tableName: store.tableName, budgetMs: TEST_BUDGET_MS, retry: { maxAttempts: 40, baseDelayMs: 1, maxDelayMs: 5 } });
    });
    const acknowledged = new Map<string, bigint>();
    await Promise.all(
      stores.map(async (s, i) => {
        for (let k = 0; k < 12; k++) {
          const owner = `c${i}-${k}`;
          acknowledged.set(owner, (await s.allocate({ pool: 'p', owner })).allocation.value);
          if (k % 3 === 2) {
            const gone = `c${i}-${k - 1}`;
            await s.release({ pool: 'p', owner: gone });
            acknowledged.delete(gone);
          }
        }
      }),
    );
    expect(new Set(acknowledged.values()).size).toBe(acknowledged.size);
    for (const [owner, value] of acknowledged) expect((await store.findByOwner('p', owner)).value).toBe(value);
    expect(await store.pool('p')).toMatchObject({ used: acknowledged.size });
    const report = await store.check();
    expect(report.pools[0].problems).toEqual([]);
  });
});
