/**
 * Pool lifecycle on DynamoDB Local: disabling and enabling, deleting an empty pool (and refusing a
 * pool that holds anything), and a deletion racing allocations: either the pool held nothing and is
 * gone, or it refuses; never an acknowledged allocation in a deleted pool. A pool deleted and
 * registered again under its name is another pool to every store, however stale its view.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, test } from 'vitest';
import { holdingPk, OWNER_SHARDS, poolPk } from '../../lib/store/keys.js';
import { freshStore, register, storeOn, testClient, val } from '../support/store.js';
import { codeOf } from '../support/concurrency.js';
import { interceptedClient, latch } from '../support/faults.js';
import type { PoolStore } from '../../lib/store/index.js';

const TWO = `
[pools.a]
type = "integer"
ranges = [{ start = 100, end = 200 }]

[pools.b]
type = "integer"
ranges = [{ start = 200, end = 300 }]
`;

/** Every item left under the pool's keys: its definition, pages and chunks, and its allocation records. */
async function itemsOf(tableName: string, pool: string): Promise<string[]> {
  const keys = [poolPk(pool), ...Array.from({ length: OWNER_SHARDS }, (_, s) => holdingPk(pool, s))];
  const out: string[] = [];
  for (const pk of keys) {
    const page = await testClient().send(new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, ConsistentRead: true }));
    for (const item of page.Items ?? []) out.push(`${item.pk.S} ${item.sk.S}`);
  }
  return out;
}

describe('disable and enable', () => {
  test('a disabled pool refuses new allocations, answers holders, and still looks up, lists and releases', async () => {
    const store = await freshStore();
    await register(store, TWO);
    await store.allocate({ pool: 'a', owner: 'held', value: val(150) });
    expect((await store.setDisabled('a', true)).disabled).toBe(true);
    expect((await store.pool('a')).disabled).toBe(true);
    expect((await store.pool('b')).disabled).toBe(false);

    await expect(store.allocate({ pool: 'a', owner: 'new' })).rejects.toMatchObject({ code: 'POOL_DISABLED', message: expect.stringContaining("pool 'a' is disabled") });
    await expect(store.allocate({ pool: 'a', owner: 'new', value: val(160) })).rejects.toMatchObject({ code: 'POOL_DISABLED' });
    // Request shape and VALUE_NOT_IN_POOL still come first, and the holder's retry is answered.
    await expect(store.allocate({ pool: 'a', owner: 'new', value: val(5) })).rejects.toMatchObject({ code: 'VALUE_NOT_IN_POOL' });
    expect(await store.allocate({ pool: 'a', owner: 'held', value: val(150) })).toMatchObject({ created: false, allocation: { value: 150n } });
    await expect(store.allocate({ pool: 'a', owner: 'held', value: val(151) })).rejects.toMatchObject({ code: 'OWNER_CONFLICT' });

    // A batch fails as a whole on its item in the disabled pool, naming it.
    const batch = store.allocateBatch([{ pool: 'b', owner: 'x' }, { pool: 'a', owner: 'y' }]);
    await expect(batch).rejects.toMatchObject({ code: 'POOL_DISABLED', details: [{ index: 1, code: 'POOL_DISABLED' }] });
    expect((await store.pool('b')).used).toBe(0);

    expect((await store.findByValue('a', val(150))).owner).toBe('held');
    expect((await store.allocations('a', { limit: 10 })).allocations).toHaveLength(1);
    await store.release({ pool: 'a', owner: 'held' });
    expect((await store.pool('a')).used).toBe(0);

    // Switching twice is harmless; enabling lets allocations in again.
    await store.setDisabled('a', true);
    expect((await store.setDisabled('a', false)).disabled).toBe(false);
    expect((await store.allocate({ pool: 'a', owner: 'new' })).created).toBe(true);
    await expect(store.setDisabled('nope', true)).rejects.toMatchObject({ code: 'POOL_NOT_FOUND' });
  });

  test('a grow keeps a pool disabled: the flag is not part of what registration writes', async () => {
    const store = await freshStore();
    await register(store, TWO);
    await store.setDisabled('a', true);
    await register(store, `[pools.a]\ntype = "integer"\nranges = [{ start = 100, end = 200 }, { start = 1000, end = 1010 }]`);
    expect(await store.pool('a')).toMatchObject({ size: 110, disabled: true });
  });
});

describe('delete', () => {
  test('a pool holding an allocation is POOL_NOT_EMPTY and unchanged; once empty it is deleted, its values and name free again', async () => {
    const store = await freshStore();
    await register(store, TWO);
    await store.allocate({ pool: 'a', owner: 'o', value: val(120) });
    await expect(store.deletePool('a')).rejects.toMatchObject({ code: 'POOL_NOT_EMPTY', message: expect.stringContaining('holds 1 allocation') });
    expect(await store.pool('a')).toMatchObject({ used: 1, disabled: false });
    expect((await store.allocate({ pool: 'a', owner: 'p' })).created).toBe(true);

    await store.release({ pool: 'a', owner: 'o' });
    await store.release({ pool: 'a', owner: 'p' });
    await store.deletePool('a');
    await expect(store.pool('a')).rejects.toMatchObject({ code: 'POOL_NOT_FOUND' });
    expect((await store.pools()).map((p) => p.name)).toEqual(['b']);
    await expect(store.deletePool('a')).rejects.toMatchObject({ code: 'POOL_NOT_FOUND' });

    // Its values no longer count for overlap, and its name can be registered again, with other values.
    const other = storeOn(store.tableName);
    await other.allocate({ pool: 'b', owner: 'warm' });
    await register(store, `[pools.c]\ntype = "integer"\nranges = [{ start = 100, end = 150 }]\n\n[pools.a]\ntype = "integer"\nranges = [{ start = 150, end = 160 }]`);
    expect(await store.pool('a')).toMatchObject({ size: 10, used: 0 });
    // A store that had cached the old pool's layout sees the new one.
    const got = await other.allocate({ pool: 'a', owner: 'again' });
    expect(got.allocation.value >= 150n && got.allocation.value < 160n).toBe(true);
    expect((await store.check({ indexLagMs: 50 })).ok).toBe(true);
  });

  test('deleting a pool racing allocations: every acknowledged allocation is released from a live pool, or the deletion refuses', { timeout: 180_000 }, async () => {
    const store = await freshStore();
    let deleted = 0;
    let refused = 0;
    /** Allocations refused by a deletion under way: the race was run, not just its two ends. */
    let disabledSeen = 0;
    for (let round = 0; round < 4; round++) {
      const pool = `race-${round}`;
      // Small chunks and many of them: most allocations create a chunk item, the path a deletion must fence.
      await register(store, `[pools.${pool}]\ntype = "integer"\nranges = [{ start = 0, end = 1024 }]`);
      let running = true;
      const lost: string[] = [];
      const clients = Array.from({ length: 4 }, async (_, c) => {
        const s = storeOn(store.tableName);
        for (let k = 0; running; k++) {
          const owner = `c${c}-${k}`;
          const code = await codeOf(s.allocate({ pool, owner }));
          if (code !== 'ok') {
            expect(['POOL_DISABLED', 'POOL_NOT_FOUND']).toContain(code);
            if (code === 'POOL_DISABLED') disabledSeen++;
            continue;
          }
          // Acknowledged: releasing it must find it, in a pool that still exists.
          const released = await codeOf(s.release({ pool, owner }));
          if (released !== 'ok') lost.push(`${owner}: ${released}`);
          // Moments with nothing held, in which a deletion can begin while the others allocate.
          await new Promise((r) => setTimeout(r, Math.random() * 30));
        }
      });
      const deleter = (async () => {
        const s = storeOn(store.tableName);
        let tries = 0;
        for (;;) {
          const code = await codeOf(s.deletePool(pool));
          if (code === 'ok') return void deleted++;
          expect(['POOL_NOT_EMPTY', 'UNAVAILABLE']).toContain(code);
          refused++;
          // Should the clients never leave a moment free, they stop, and the deletion must then succeed.
          if (++tries === 100) running = false;
        }
      })();
      await deleter;
      running = false;
      await Promise.all(clients);
      expect(lost).toEqual([]);
      await expect(store.pool(pool)).rejects.toMatchObject({ code: 'POOL_NOT_FOUND' });
      expect(await itemsOf(store.tableName, pool)).toEqual([]);
    }
    expect(deleted).toBe(4);
    expect(refused).toBeGreaterThan(0);
    expect(disabledSeen).toBeGreaterThan(0);
    expect((await store.check({ indexLagMs: 50 })).ok).toBe(true);
  });
});

const ONE = (from: number, to: number) => `[pools.a]\ntype = "integer"\nranges = [{ start = ${from}, end = ${to} }]`;

/**
 * Runs `call` on a store of its own whose first transaction is held at the door while pool 'a' is
 * deleted, registered again as `replacement` and given `meanwhile`; then lets it through. Its code, and the store.
 */
async function acrossReplacement(tableName: string, replacement: string, call: (s: PoolStore) => Promise<unknown>, meanwhile = async (_s: PoolStore) => {}) {
  const reached = latch();
  const go = latch();
  let held = false;
  const slow = storeOn(tableName, {
    client: interceptedClient(async (command, _input, send) => {
      if (!held && command === 'TransactWriteItemsCommand') {
        held = true;
        reached.open();
        await go.opened;
      }
      return send();
    }),
  });
  const store = storeOn(tableName);
  const code = codeOf(call(slow));
  await reached.opened;
  await store.deletePool('a');
  await register(store, replacement);
  await meanwhile(store);
  go.open();
  return { code: await code, slow };
}

/** Every allocation the pool answers lies in it, and check finds the table consistent. */
async function expectSound(store: PoolStore, from: number, to: number) {
  for (const h of (await store.allocations('a', { limit: 1000 })).allocations) expect(h.value >= BigInt(from) && h.value < BigInt(to)).toBe(true);
  expect((await store.check({ indexLagMs: 50 })).ok).toBe(true);
}

describe('a pool deleted and registered again under its name', () => {
  test('a store that cached the old layout (same layout version) allocates from the new one', async () => {
    const store = await freshStore();
    await register(store, ONE(100, 200));
    const other = storeOn(store.tableName);
    await other.allocate({ pool: 'a', owner: 'warm' });
    await other.release({ pool: 'a', owner: 'warm' });
    await store.deletePool('a');
    await register(store, ONE(500, 510));

    const got = await other.allocate({ pool: 'a', owner: 'o' });
    expect(got.allocation.value >= 500n && got.allocation.value < 510n).toBe(true);
    expect(await other.pool('a')).toMatchObject({ size: 10, used: 1 });
    await expectSound(store, 500, 510);
  });

  test('an allocation that read the old pool and creates a chunk item lands in neither: UNAVAILABLE, and its retry goes by the new pool', async () => {
    const store = await freshStore();
    await register(store, ONE(100, 200));
    const { code, slow } = await acrossReplacement(store.tableName, ONE(500, 510), (s) => s.allocate({ pool: 'a', owner: 'late' }));

    expect(code).toBe('UNAVAILABLE');
    expect(await store.pool('a')).toMatchObject({ size: 10, used: 0 });
    const retried = await slow.allocate({ pool: 'a', owner: 'late' });
    expect(retried.allocation.value >= 500n && retried.allocation.value < 510n).toBe(true);
    await expectSound(store, 500, 510);
  });

  test('an allocation that read an old chunk lands in neither, even when the new pool brought that chunk to the same version', async () => {
    const store = await freshStore();
    await register(store, ONE(100, 200));
    // Chunk 0 written twice: version 2, empty, so the deletion may go ahead.
    await store.allocate({ pool: 'a', owner: 'w', value: val(150) });
    await store.release({ pool: 'a', owner: 'w' });
    const { code, slow } = await acrossReplacement(store.tableName, ONE(300, 400), (s) => s.allocate({ pool: 'a', owner: 'late', value: val(150) }), async (s) => {
      // The new pool's chunk 0, written twice: version 2 again.
      await s.allocate({ pool: 'a', owner: 'n', value: val(350) });
      await s.release({ pool: 'a', owner: 'n' });
    });

    expect(code).toBe('UNAVAILABLE');
    expect(await store.pool('a')).toMatchObject({ size: 100, used: 0 });
    await expect(slow.allocate({ pool: 'a', owner: 'late', value: val(150) })).rejects.toMatchObject({ code: 'VALUE_NOT_IN_POOL' });
    await expectSound(store, 300, 400);
  });

  test('a batch, an import and a retirement that read the old pool land in neither: UNAVAILABLE, nothing written', async () => {
    const store = await freshStore();
    for (const call of [
      (s: PoolStore) => s.allocateBatch([{ pool: 'a', owner: 'b1' }, { pool: 'a', owner: 'b2', value: val(150) }]),
      (s: PoolStore) => s.importAllocations('a', [{ pool: 'a', owner: 'i1', value: val(120) }]),
      (s: PoolStore) => s.retire({ pool: 'a', values: [{ value: val(130) }] }),
    ]) {
      await register(store, ONE(100, 200));
      expect((await acrossReplacement(store.tableName, ONE(500, 510), call)).code).toBe('UNAVAILABLE');
      expect(await store.pool('a')).toMatchObject({ size: 10, used: 0 });
      await expectSound(store, 500, 510);
      await store.deletePool('a');
    }
  });
});
