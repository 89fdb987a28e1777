/**
 * allocation_order on DynamoDB Local: a "lowest" pool hands out its lowest free value (aligned block)
 * first, one at a time and under concurrency, every value exactly once; a later file may change the
 * order, and registers nothing the second time; scopes let pools of one family share values.
 */
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { Allocation } from '../../lib/model.js';
import { PoolStore } from '../../lib/store/index.js';
import { blockOf, freshStore, register, storeOn, val } from '../support/store.js';
import { spread } from '../support/concurrency.js';

const LOWEST = 'allocation_order = "lowest"\n';

function integerPool(name: string, start: number, end: number, extra = ''): string {
  return `[pools.${name}]\ntype = "integer"\n${extra}ranges = [{ start = ${start}, end = ${end} }]\n`;
}

function instances(store: PoolStore, n: number): PoolStore[] {
  return Array.from({ length: n }, () => storeOn(store.tableName));
}

const values = (as: readonly Allocation[]) => as.map((a) => Number(a.value));
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const ascending = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);

async function exhausted(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (e) {
    if (isPoolError(e, 'RESOURCE_EXHAUSTED')) return true;
    throw e;
  }
}

describe('allocation_order "lowest", one allocation at a time', () => {
  test('each allocation gets the lowest free value, across chunks and never-written chunks', async () => {
    const store = await freshStore();
    // 100 values from 1003: chunks of 8 aligned at multiples of 8, the first one holding 5 values.
    await register(store, integerPool('p', 1003, 1103, LOWEST));
    const got: number[] = [];
    for (let i = 0; i < 30; i++) got.push(Number((await store.allocate({ pool: 'p', owner: `o-${i}` })).allocation.value));
    expect(got).toEqual(range(1003, 30));
    expect(await store.pool('p')).toMatchObject({ used: 30, order: 'lowest' });
  });

  test('a released value is the next handed out, then the pool goes on from where it was', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 100, 200, LOWEST));
    for (let i = 0; i < 20; i++) await store.allocate({ pool: 'p', owner: `o-${i}` });
    await store.release({ pool: 'p', owner: 'o-13' });
    await store.release({ pool: 'p', owner: 'o-4' });
    const next = [];
    for (const owner of ['a', 'b', 'c']) next.push(Number((await store.allocate({ pool: 'p', owner })).allocation.value));
    expect(next).toEqual([104, 113, 120]);
  });

  test('values that are not auto_assign are skipped, and an explicit value is still taken as asked', async () => {
    const store = await freshStore();
    await register(store, `[pools.p]\ntype = "integer"\n${LOWEST}ranges = [{ start = 10, end = 20, auto_assign = false }, { start = 20, end = 40 }]\n`);
    expect(Number((await store.allocate({ pool: 'p', owner: 'x', value: val(22) })).allocation.value)).toBe(22);
    expect(Number((await store.allocate({ pool: 'p', owner: 'y', value: val(11) })).allocation.value)).toBe(11);
    const got = [];
    for (const owner of ['a', 'b', 'c']) got.push(Number((await store.allocate({ pool: 'p', owner })).allocation.value));
    expect(got).toEqual([20, 21, 23]);
  });

  test('a later range below the first is filled first: lowest is by value, not by registration', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 500, 510, LOWEST));
    await store.allocate({ pool: 'p', owner: 'first' });
    await register(store, `[pools.p]\ntype = "integer"\nranges = [{ start = 500, end = 510 }, { start = 100, end = 103 }]\n`);
    const got = [];
    for (const owner of ['a', 'b', 'c', 'd']) got.push(Number((await store.allocate({ pool: 'p', owner })).allocation.value));
    expect(got).toEqual([100, 101, 102, 501]);
  });

  test('the last value, then RESOURCE_EXHAUSTED', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 1, 6, LOWEST));
    const got = [];
    for (let i = 0; i < 5; i++) got.push(Number((await store.allocate({ pool: 'p', owner: `o-${i}` })).allocation.value));
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(await exhausted(store.allocate({ pool: 'p', owner: 'late' }))).toBe(true);
  });

  test('blocks: the lowest free aligned block, inside a chunk and across chunks', async () => {
    const store = await freshStore();
    // 0.0.0.0/22 as a range of 1,024 addresses: chunks of 8; blocks of 4 fit in a chunk, blocks of 16 span two.
    await register(store, `[pools.v4]\ntype = "ipv4"\n${LOWEST}ranges = [{ start = "10.0.0.0", end = "10.0.4.0" }]\n`);
    const one = await store.allocate({ pool: 'v4', owner: 'single' });
    expect(one.allocation.value).toBe(0x0a000000n);
    const four = await store.allocate({ pool: 'v4', owner: 'four', size: blockOf(4) });
    expect([four.allocation.value, four.allocation.size]).toEqual([0x0a000004n, 4]);
    const sixteen = await store.allocate({ pool: 'v4', owner: 'sixteen', size: blockOf(16) });
    expect([sixteen.allocation.value, sixteen.allocation.size]).toEqual([0x0a000010n, 16]);
    const two = await store.allocate({ pool: 'v4', owner: 'two', size: blockOf(2) });
    expect(two.allocation.value).toBe(0x0a000002n);
    const next16 = await store.allocate({ pool: 'v4', owner: 'sixteen-b', size: blockOf(16) });
    expect(next16.allocation.value).toBe(0x0a000020n);
    await store.release({ pool: 'v4', owner: 'sixteen' });
    const again = await store.allocate({ pool: 'v4', owner: 'sixteen-c', size: blockOf(16) });
    expect(again.allocation.value).toBe(0x0a000010n);
    expect((await store.check()).ok).toBe(true);
  });

  test('a batch takes the lowest free values, in item order', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 1000, 1100, LOWEST));
    await store.allocate({ pool: 'p', owner: 'first' });
    await store.allocate({ pool: 'p', owner: 'explicit', value: val(1003) });
    const batch = await store.allocateBatch(range(0, 12).map((i) => ({ pool: 'p', owner: `b-${i}` })));
    expect(values(batch.allocations)).toEqual([1001, 1002, ...range(1004, 10)]);
  });
});

describe('allocation_order "lowest" under concurrency', () => {
  // Lowest-first clients take turns on one chunk by design: a drain is slow on a busy 2-core machine.
  test('32 clients drain a 128-value pool: every value once', { timeout: 180_000 }, async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 5000, 5128, LOWEST));
    const clients = instances(store, 32);
    const owners = range(0, 128).map((i) => `o-${i}`);
    const got = values(await spread(owners, clients, async (s, o) => (await s.allocate({ pool: 'p', owner: o })).allocation));
    expect(ascending(got)).toEqual(range(5000, 128));
    expect(await exhausted(store.allocate({ pool: 'p', owner: 'late' }))).toBe(true);
    expect((await store.check()).ok).toBe(true);
  });

  test('32 clients take 100 values of a 1,024-value pool: the 100 lowest, no hole below the highest', { timeout: 180_000 }, async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 0, 1024, LOWEST));
    const got = values(await spread(range(0, 100).map((i) => `o-${i}`), instances(store, 32), async (s, o) => (await s.allocate({ pool: 'p', owner: o })).allocation));
    expect(ascending(got)).toEqual(range(0, 100));
    // And one at a time afterwards, the next lowest.
    expect((await store.allocate({ pool: 'p', owner: 'after' })).allocation.value).toBe(100n);
  });

  test('after releases, concurrent clients fill the holes first', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 0, 300, LOWEST));
    for (let i = 0; i < 60; i++) await store.allocate({ pool: 'p', owner: `o-${i}` });
    const freed = [3, 17, 18, 40, 59];
    for (const v of freed) await store.release({ pool: 'p', owner: `o-${v}` });
    const got = values(await spread(range(0, 10).map((i) => `n-${i}`), instances(store, 10), async (s, o) => (await s.allocate({ pool: 'p', owner: o })).allocation));
    expect(ascending(got)).toEqual([...freed, 60, 61, 62, 63, 64]);
  });

  test('concurrent blocks: distinct, aligned, and the lowest ones', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 0, 512, LOWEST));
    const got = await spread(range(0, 24).map((i) => `b-${i}`), instances(store, 12), async (s, o) => (await s.allocate({ pool: 'p', owner: o, size: blockOf(4) })).allocation);
    expect(ascending(values(got))).toEqual(range(0, 24).map((i) => i * 4));
    expect((await store.check()).ok).toBe(true);
  });
});

describe('the order and the scope as registered', () => {
  test('a later file changes the order (no value added); the same file again writes nothing; leaving it out keeps it', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 0, 100));
    for (let i = 0; i < 3; i++) await store.allocate({ pool: 'p', owner: `r-${i}` });
    const before = await store.pool('p');
    expect(before).toMatchObject({ order: undefined });

    const changed = await register(store, integerPool('p', 0, 100, LOWEST));
    expect(changed.result.pools).toEqual([{ name: 'p', action: 'unchanged', added: 0, size: 100 }]);
    const after = await store.pool('p');
    expect(after).toMatchObject({ order: 'lowest', size: 100, used: 3 });
    const state = await store.registrationState();
    const ver = state.metas.get('p')?.ver;

    await register(store, integerPool('p', 0, 100, LOWEST));
    expect((await store.registrationState()).metas.get('p')?.ver).toBe(ver);

    // Grown by a file that leaves the order out: still lowest.
    await register(store, integerPool('p', 0, 120));
    expect(await store.pool('p')).toMatchObject({ order: 'lowest', size: 120 });

    // The lowest free value now, whatever the random allocations took.
    const held = (await store.allocations('p', { limit: 10 })).allocations.map((a) => Number(a.value));
    const lowestFree = range(0, 120).find((v) => !held.includes(v));
    expect((await store.allocate({ pool: 'p', owner: 'l' })).allocation.value).toBe(BigInt(lowestFree as number));
  });

  test('a file that changes the order of more pools than one transaction holds is applied through an intent, whole', { timeout: 180_000 }, async () => {
    const store = await freshStore();
    const file = (extra: string) => range(0, 120).map((i) => integerPool(`p${i}`, i * 10, i * 10 + 5, extra)).join('');
    await register(store, file(''));
    const changed = await register(store, file(LOWEST));
    expect(changed.result.pools.every((p) => p.action === 'unchanged' && p.added === 0)).toBe(true);
    const pools = await store.pools();
    expect(pools.filter((p) => p.order === 'lowest')).toHaveLength(120);
    const state = await store.registrationState();
    expect([...state.metas.values()].filter((m) => m.staged !== undefined)).toEqual([]);
    expect((await store.allocate({ pool: 'p7', owner: 'x' })).allocation.value).toBe(70n);
    // Once more: nothing to write.
    const vers = [...state.metas.values()].map((m) => m.ver);
    await register(store, file(LOWEST));
    expect([...(await store.registrationState()).metas.values()].map((m) => m.ver)).toEqual(vers);
  });

  test('a pool created lowest can go back to random', async () => {
    const store = await freshStore();
    await register(store, integerPool('p', 0, 100, LOWEST));
    await register(store, integerPool('p', 0, 100, 'allocation_order = "random"\n'));
    expect(await store.pool('p')).toMatchObject({ order: 'random' });
  });

  test('scopes: two pools of VLANs 100-199 in two scopes both register; the scope is kept through grows and read back for planning', async () => {
    const store = await freshStore();
    await register(store, integerPool('a', 100, 200, 'kind = "vlan"\nscope = "fabric-a"\n') + integerPool('b', 100, 200, 'kind = "vlan"\nscope = "fabric-b"\n'));
    await register(store, integerPool('a', 100, 300));
    expect(await store.pool('a')).toMatchObject({ scope: 'fabric-a', size: 200 });
    expect(await store.pool('b')).toMatchObject({ scope: 'fabric-b', size: 100 });
    const state = await store.registrationState();
    expect(state.pools.map((p) => [p.name, p.scope]).sort()).toEqual([
      ['a', 'fabric-a'],
      ['b', 'fabric-b'],
    ]);
    await expect(register(store, integerPool('c', 150, 160, 'scope = "fabric-b"\n'))).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      details: [{ path: 'pools.c.ranges[0]', message: expect.stringContaining("overlaps registered pool 'b'") }],
    });
    await expect(register(store, integerPool('b', 100, 200, 'scope = "fabric-a"\n'))).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      details: [{ path: 'pools.b.scope', message: expect.stringContaining('registered in scope "fabric-b"') }],
    });
    // Both pools hand out 100: they are different namespaces.
    expect((await storeOn(store.tableName).allocate({ pool: 'a', owner: 'x', value: val(100) })).allocation.value).toBe(100n);
    expect((await storeOn(store.tableName).allocate({ pool: 'b', owner: 'x', value: val(100) })).allocation.value).toBe(100n);
  });
});
