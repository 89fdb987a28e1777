import { beforeAll, describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freshStore, register, val } from '../support/store.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (isPoolError(e)) return e.code;
    throw e;
  }
}

describe('store on DynamoDB Local', () => {
  let store: PoolStore;
  beforeAll(async () => {
    store = await freshStore();
    await register(
      store,
      `[pools.vni]
type = "integer"
ranges = [{ start = 2024500, end = 2024510 }, { start = 5000, end = 5002, auto_assign = false }]
[pools.lo]
type = "ipv4"
prefix = "10.0.0.0/30"
[pools.v6]
type = "ipv6"
prefix = "2001:db8::/126"
exclude = ["2001:db8::1"]`,
    );
  });

  test('registration creates pools with exact stats', async () => {
    const pools = await store.pools();
    expect(pools.map((p) => [p.name, p.type, p.size, p.used, p.autoAssignSize])).toEqual([
      ['lo', 'ipv4', 2, 0, 2],
      ['v6', 'ipv6', 2, 0, 2],
      ['vni', 'integer', 12, 0, 10],
    ]);
  });

  test('allocate picks an auto_assign value; the owner is the idempotency key', async () => {
    const first = await store.allocate({ pool: 'vni', owner: 'vpc-1' });
    expect(first.created).toBe(true);
    expect(first.allocation.value).toBeGreaterThanOrEqual(2024500n);
    expect(first.allocation.value).toBeLessThan(2024510n);
    const again = await store.allocate({ pool: 'vni', owner: 'vpc-1' });
    expect(again).toEqual({ allocation: first.allocation, created: false });
    expect(await store.findByOwner('vni', 'vpc-1')).toEqual(first.allocation);
    expect(await store.findByValue('vni', val(Number(first.allocation.value)))).toEqual(first.allocation);
    expect((await store.pool('vni')).used).toBe(1);
  });

  test('explicit values, including auto_assign = false ones', async () => {
    const manual = await store.allocate({ pool: 'vni', owner: 'ext-1', value: val(5001) });
    expect(manual.allocation.value).toBe(5001n);
    expect(await code(store.allocate({ pool: 'vni', owner: 'ext-2', value: val(5001) }))).toBe('VALUE_IN_USE');
    expect(await code(store.allocate({ pool: 'vni', owner: 'ext-1', value: val(5000) }))).toBe('OWNER_CONFLICT');
    expect(await store.allocate({ pool: 'vni', owner: 'ext-1', value: val(5001) })).toMatchObject({ created: false });
    expect(await code(store.allocate({ pool: 'vni', owner: 'ext-3', value: val(4999) }))).toBe('VALUE_NOT_IN_POOL');
    expect(await code(store.allocate({ pool: 'vni', owner: 'ext-3', value: val('10.0.0.1') }))).toBe('INVALID_ARGUMENT');
    expect(await code(store.allocate({ pool: 'nope', owner: 'ext-3' }))).toBe('POOL_NOT_FOUND');
  });

  test('release only by the owner; then the value is free again', async () => {
    const a = await store.allocate({ pool: 'lo', owner: 'dpu-1' });
    const v = a.allocation.value;
    const shown = `10.0.0.${Number(v & 255n)}`;
    expect(await code(store.release({ pool: 'lo', owner: 'dpu-2', value: val(shown) }))).toBe('OWNER_MISMATCH');
    expect(await code(store.release({ pool: 'lo', owner: 'dpu-2', value: val('10.0.0.3') }))).toBe('VALUE_NOT_IN_POOL');
    await store.release({ pool: 'lo', owner: 'dpu-1', value: val(shown) });
    expect(await code(store.findByValue('lo', val(shown)))).toBe('NOT_ALLOCATED');
    expect(await code(store.release({ pool: 'lo', owner: 'dpu-1', value: val(shown) }))).toBe('NOT_ALLOCATED');
    expect(await code(store.release({ pool: 'lo', owner: 'dpu-1' }))).toBe('NOT_ALLOCATED');
    expect((await store.pool('lo')).used).toBe(0);
  });

  test('exhaustion fails at once, allocates nothing, and says how full the pool is', async () => {
    await store.allocate({ pool: 'v6', owner: 'a' });
    await store.allocate({ pool: 'v6', owner: 'b' });
    const err = await store.allocate({ pool: 'v6', owner: 'c' }).catch((e) => e);
    expect(isPoolError(err, 'RESOURCE_EXHAUSTED')).toBe(true);
    expect(err.message).toContain('2 of 2 in use');
    expect(err.details).toEqual({ size: 2, used: 2, auto_assign_size: 2, auto_assign_free: 0 });
    // The owner's own holding still answers even when the pool is full.
    expect(await store.allocate({ pool: 'v6', owner: 'a' })).toMatchObject({ created: false });
    await store.release({ pool: 'v6', owner: 'b' });
    expect((await store.allocate({ pool: 'v6', owner: 'c' })).allocation.value).toBeDefined();
    expect((await store.pool('v6')).used).toBe(2);
  });

  test('listing is in value order, paged', async () => {
    for (const o of ['l1', 'l2', 'l3', 'l4']) await store.allocate({ pool: 'vni', owner: o });
    const all = [];
    let after: string | undefined;
    do {
      const page = await store.allocations('vni', { limit: 2, after });
      all.push(...page.allocations);
      after = page.next;
    } while (after);
    const values = all.map((a) => a.value);
    expect(values).toEqual([...values].sort((a, b) => (a < b ? -1 : 1)));
    expect(all.length).toBe((await store.pool('vni')).used);
  });

  test('a rejected file is recorded with its errors, at most 100 of them plus a count of the rest', async () => {
    const bad = Array.from({ length: 150 }, (_, i) => `[pools.bad${i}]\ntype = "integer"`).join('\n');
    const err = await register(store, bad).catch((e) => e);
    expect(isPoolError(err, 'INVALID_CONFIG')).toBe(true);
    expect(err.details).toHaveLength(150);
    const [latest] = await store.syncs(1);
    expect(latest).toMatchObject({ source: 'startup', status: 'rejected' });
    expect(latest.errors).toHaveLength(101);
    expect(latest.errors?.[100]).toEqual({ path: '(more)', message: '50 more errors not recorded' });
    expect((await store.pools()).map((p) => p.name)).toEqual(['lo', 'v6', 'vni']);
  });

  test('many pools are listed by name with their own counts', async () => {
    const many = await freshStore();
    const names = Array.from({ length: 25 }, (_, i) => `p${String(i).padStart(2, '0')}`).reverse();
    await register(many, names.map((n, i) => `[pools.${n}]\ntype = "integer"\nranges = [{ start = ${i * 100}, end = ${i * 100 + 10 + i} }]`).join('\n'));
    for (const [i, n] of names.entries()) for (let k = 0; k < i % 4; k++) await many.allocate({ pool: n, owner: `o${k}` });
    const pools = await many.pools();
    expect(pools.map((p) => p.name)).toEqual([...names].sort());
    for (const p of pools) {
      const i = names.indexOf(p.name);
      expect([p.size, p.used]).toEqual([10 + i, i % 4]);
    }
  });

  test('check finds no disagreement, and reports pools by name', async () => {
    const report = await store.check();
    expect(report.pools.map((p) => p.name)).toEqual(['lo', 'v6', 'vni']); // registered as vni, lo, v6
    expect(report.pools.map((p) => p.problems)).toEqual([[], [], []]);
    expect(report.ok).toBe(true);
  });
});
