/**
 * Retiring values on DynamoDB Local: a range registered by mistake taken out of a pool (size shrinks,
 * its values are VALUE_NOT_IN_POOL, they no longer count for overlap, a later file adds them back),
 * refused while any of them is held, single values inside a chunk, and a retirement racing
 * allocations: never an allocation of a retired value.
 */
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freshStore, register, storeOn, val } from '../support/store.js';

const LAG = { indexLagMs: 50 };
const MISTAKE = `[pools.vlan]\ntype = "integer"\nranges = [{ start = 100, end = 200 }, { start = 1000, end = 1100 }]`;

const range = (start: number, end: number) => ({ start: val(start), end: val(end) });

async function drain(store: PoolStore, pool: string, prefix: string): Promise<bigint[]> {
  const got: bigint[] = [];
  for (let i = 0; ; i++) {
    try {
      got.push((await store.allocate({ pool, owner: `${prefix}-${i}` })).allocation.value);
    } catch (e) {
      if (isPoolError(e, 'RESOURCE_EXHAUSTED')) return got;
      throw e;
    }
  }
}

describe('retire', () => {
  test('a range registered by mistake is taken out, stays out of overlap and allocations, and a later file adds it back', { timeout: 120_000 }, async () => {
    const store = await freshStore();
    await register(store, MISTAKE);
    const dry = await store.retire({ pool: 'vlan', ranges: [range(1000, 1100)] }, { dryRun: true });
    expect(dry).toMatchObject({ retired: 100, pool: { size: 200 } });
    expect((await store.pool('vlan')).size).toBe(200);

    const done = await store.retire({ pool: 'vlan', ranges: [range(1000, 1100)] });
    expect(done).toMatchObject({ retired: 100, pool: { size: 100, used: 0 } });
    expect((await store.pool('vlan')).runs).toEqual([{ start: 100n, end: 200n, autoAssign: true }]);
    await expect(store.allocate({ pool: 'vlan', owner: 'x', value: val(1050) })).rejects.toMatchObject({ code: 'VALUE_NOT_IN_POOL' });
    await expect(store.retire({ pool: 'vlan', values: [{ value: val(1050) }] })).rejects.toMatchObject({ code: 'VALUE_NOT_IN_POOL' });
    // Another pool may now hold them.
    await register(store, `[pools.other]\ntype = "integer"\nranges = [{ start = 1000, end = 1010 }]`);
    const all = await drain(store, 'vlan', 'd');
    expect(all).toHaveLength(100);
    expect(all.every((v) => v >= 100n && v < 200n)).toBe(true);
    expect((await store.check(LAG)).pools.flatMap((p) => p.problems)).toEqual([]);

    // Additive registration brings the rest back, as a new segment over the retired one.
    await register(store, MISTAKE.replace('1000, end = 1100', '1010, end = 1100'));
    expect((await store.pool('vlan')).size).toBe(190);
    expect((await store.allocate({ pool: 'vlan', owner: 'back', value: val(1050) })).created).toBe(true);
    expect(await drain(store, 'vlan', 'e')).toHaveLength(89);
    expect((await store.check(LAG)).pools.flatMap((p) => p.problems)).toEqual([]);
  });

  test('a held value refuses the whole retirement, listing it; single values inside a chunk retire alone', async () => {
    const store = await freshStore();
    await register(store, MISTAKE);
    await store.allocate({ pool: 'vlan', owner: 'holder', value: val(1042) });
    const error = await store.retire({ pool: 'vlan', ranges: [range(1000, 1100)] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VALUE_IN_USE', message: expect.stringContaining('1042'), details: { held: [1042] } });
    expect((await store.pool('vlan')).size).toBe(200);
    expect((await store.allocate({ pool: 'vlan', owner: 'still', value: val(1043) })).created).toBe(true);

    expect(await store.retire({ pool: 'vlan', values: [{ value: val(105) }, { value: val(107) }] })).toMatchObject({ retired: 2, pool: { size: 198 } });
    await expect(store.allocate({ pool: 'vlan', owner: 'x', value: val(105) })).rejects.toMatchObject({ code: 'VALUE_NOT_IN_POOL' });
    expect((await store.allocate({ pool: 'vlan', owner: 'y', value: val(106) })).created).toBe(true);
    await expect(store.retire({ pool: 'vlan', ranges: [range(150, 140)] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('ranges[0]') });
    expect((await store.check(LAG)).pools.flatMap((p) => p.problems)).toEqual([]);
  });

  test('a retirement racing allocations: never an allocation of a retired value', { timeout: 180_000 }, async () => {
    const store = await freshStore();
    await register(store, `[pools.race]\ntype = "integer"\nranges = [{ start = 0, end = 512 }]`);
    let running = true;
    const late: bigint[] = [];
    let retiredAt = -1;
    let step = 0;
    const clients = Array.from({ length: 4 }, async (_, c) => {
      const s = storeOn(store.tableName);
      for (let k = 0; running; k++) {
        const started = step;
        const got = await s.allocate({ pool: 'race', owner: `c${c}-${k}` });
        // Allocated after the retirement answered: must not be a retired value.
        if (retiredAt >= 0 && started > retiredAt && got.allocation.value >= 256n) late.push(got.allocation.value);
        await s.release({ pool: 'race', owner: `c${c}-${k}` });
        step++;
      }
    });
    for (;;) {
      try {
        await store.retire({ pool: 'race', ranges: [range(256, 512)] });
        retiredAt = step;
        break;
      } catch (e) {
        if (!isPoolError(e, 'VALUE_IN_USE')) throw e;
      }
    }
    // Let the clients allocate a while after it.
    const until = step + 200;
    while (step < until) await new Promise((r) => setTimeout(r, 20));
    running = false;
    await Promise.all(clients);
    expect(late).toEqual([]);
    expect((await store.pool('race')).size).toBe(256);
    expect((await store.allocations('race', { limit: 1000 })).allocations).toEqual([]);
    expect((await store.check(LAG)).pools.flatMap((p) => p.problems)).toEqual([]);
  });
});
