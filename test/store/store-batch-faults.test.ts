/**
 * Batches under faults DynamoDB Local cannot produce, injected in front of it: a transaction that
 * lands while its answer is lost, answers that never come, throttling, and all of them at random
 * under concurrency. A batch is held exactly once or, answered UNAVAILABLE, not at all: never in part.
 */
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { AllocationRequest } from '../../lib/model.js';
import { PoolStore } from '../../lib/store/index.js';
import { interceptedClient, lostAnswer, throttling } from '../support/faults.js';
import { releasedEntries, scanTable } from '../support/scan.js';
import { blockOf, freshStore, register, TEST_BUDGET_MS, val } from '../support/store.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 7000, end = 7096 }]

[pools.lo]
type = "ipv4"
prefix = "10.5.0.0/25"

[pools.tiny]
type = "integer"
ranges = [{ start = 96, end = 104 }]
`;

const BATCH: AllocationRequest[] = [
  { pool: 'vni', owner: 'f' },
  { pool: 'vni', owner: 'f-x', value: val(7042) },
  { pool: 'lo', owner: 'f', size: blockOf(4) },
  { pool: 'tiny', owner: 'f' },
  { pool: 'tiny', owner: 'f-2' },
];

async function setup(): Promise<PoolStore> {
  const store = await freshStore();
  await register(store, POOLS);
  return store;
}

/** A store on the same table whose transactions pass through `fault` (numbered from 1). */
function faulty(store: PoolStore, fault: (send: () => Promise<unknown>, n: number) => Promise<unknown>, maxAttempts = 6): PoolStore {
  let n = 0;
  const client = interceptedClient((command, _input, send) => (command === 'TransactWriteItemsCommand' ? fault(send, ++n) : send()));
  return new PoolStore({ client, tableName: store.tableName, budgetMs: TEST_BUDGET_MS, retry: { maxAttempts, baseDelayMs: 1, maxDelayMs: 5 } });
}

/** The first transaction lands, and its answer is lost. */
const firstAnswerLost = async (send: () => Promise<unknown>, n: number) => {
  const out = await send();
  if (n === 1) throw lostAnswer();
  return out;
};

/** Every transaction is sent (landing, or failing its conditions), and every answer is lost. */
const everyAnswerLost = async (send: () => Promise<unknown>) => {
  await send().catch(() => undefined);
  throw lostAnswer();
};

async function usedOf(store: PoolStore): Promise<number[]> {
  return (await store.pools()).map((p) => p.used);
}

describe('batches under injected faults', () => {
  test('the transaction lands and its answer is lost: the batch is held once and answered as created', async () => {
    const store = await setup();
    const answer = await faulty(store, firstAnswerLost).allocateBatch(BATCH);
    expect(answer.created).toBe(true);
    for (const a of answer.allocations) expect(await store.findByOwner(a.pool, a.owner)).toEqual(a);
    expect(await usedOf(store)).toEqual([4, 2, 2]);
    expect((await store.check()).ok).toBe(true);
  });

  test('every answer lost, every send landing or not: the records tell, the batch is held once', async () => {
    const store = await setup();
    const answer = await faulty(store, everyAnswerLost).allocateBatch(BATCH);
    expect(answer.created).toBe(true);
    for (const a of answer.allocations) expect(await store.findByOwner(a.pool, a.owner)).toEqual(a);
    expect(await usedOf(store)).toEqual([4, 2, 2]);
    expect((await store.check()).ok).toBe(true);
  });

  test('no transaction ever arrives: UNAVAILABLE, and nothing is held', async () => {
    const store = await setup();
    const before = await scanTable(store.tableName);
    const err = await faulty(store, async () => {
      throw lostAnswer();
    })
      .allocateBatch(BATCH)
      .catch((e: unknown) => e);
    expect(isPoolError(err, 'UNAVAILABLE')).toBe(true);
    expect(await scanTable(store.tableName)).toEqual(before);
  });

  test('throttled transactions are retried; a release whose answer is lost is released once, with one entry per item', async () => {
    const store = await setup();
    const made = await faulty(store, async (send, n) => {
      if (n <= 2) throw throttling();
      return send();
    }).allocateBatch(BATCH);
    expect(made.created).toBe(true);
    const released = await faulty(store, firstAnswerLost).releaseBatch(BATCH.map(({ pool, owner }) => ({ pool, owner })));
    expect(released.map((r) => r.released)).toEqual([true, true, true, true, true]);
    expect(released.map((r) => r.allocation)).toEqual(made.allocations);
    expect(await usedOf(store)).toEqual([0, 0, 0]);
    expect(await releasedEntries(store.tableName)).toHaveLength(5);
    expect((await store.check()).ok).toBe(true);
  });

  test('a release batch whose every answer is lost still answers what it released, and releases it once', async () => {
    const store = await setup();
    await store.allocateBatch(BATCH);
    const released = await faulty(store, everyAnswerLost).releaseBatch([...BATCH.map(({ pool, owner }) => ({ pool, owner })), { pool: 'vni', owner: 'nobody' }]);
    expect(released.map((r) => r.released)).toEqual([true, true, true, true, true, false]);
    expect(await usedOf(store)).toEqual([0, 0, 0]);
    expect(await releasedEntries(store.tableName)).toHaveLength(5);
    expect((await store.check()).ok).toBe(true);
  });

  test('faults at random under concurrency: an acknowledged batch is held whole, an UNAVAILABLE one not at all', async () => {
    const store = await setup();
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const stores = Array.from({ length: 6 }, () =>
      faulty(
        store,
        async (send) => {
          const r = rand();
          if (r < 0.15) throw throttling();
          if (r < 0.3) return everyAnswerLost(send);
          if (r < 0.35) throw lostAnswer();
          return send();
        },
        40,
      ),
    );
    const outcomes = new Map<string, 'held' | 'none' | 'released'>();
    await Promise.all(
      stores.map(async (s, c) => {
        for (let k = 0; k < 5; k++) {
          const batch: AllocationRequest[] = [
            { pool: 'vni', owner: `c${c}-${k}` },
            { pool: 'lo', owner: `c${c}-${k}` },
            { pool: 'tiny', owner: `c${c}-${k}` },
          ];
          const key = `c${c}-${k}`;
          try {
            await s.allocateBatch(batch);
            outcomes.set(key, 'held');
          } catch (e) {
            if (!isPoolError(e) || !['UNAVAILABLE', 'RESOURCE_EXHAUSTED'].includes(e.code)) throw e;
            outcomes.set(key, 'none');
          }
          if (k % 2 === 1 && outcomes.get(`c${c}-${k - 1}`) === 'held') {
            const back = await s.releaseBatch(batch.map((b) => ({ pool: b.pool, owner: `c${c}-${k - 1}` }))).catch((e: unknown) => e);
            if (Array.isArray(back)) {
              expect(back.map((r) => r.released)).toEqual([true, true, true]);
              outcomes.set(`c${c}-${k - 1}`, 'released');
            } else {
              expect(isPoolError(back, 'UNAVAILABLE')).toBe(true);
            }
          }
        }
      }),
    );
    for (const [owner, outcome] of outcomes) {
      const holds = await Promise.all(['vni', 'lo', 'tiny'].map((pool) => store.findByOwner(pool, owner).then(() => true, () => false)));
      expect(holds, `${owner} ${outcome}`).toEqual(Array(3).fill(outcome === 'held'));
    }
    expect([...outcomes.values()]).toContain('held');
    const report = await store.check();
    expect(report.pools.flatMap((p) => p.problems)).toEqual([]);
  });
});
