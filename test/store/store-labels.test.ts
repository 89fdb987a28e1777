/**
 * Labels on DynamoDB Local: set at allocation, merge-patched, never changing the value or the owner,
 * no patch lost to a concurrent one, no allocation brought back by a patch racing its release, and
 * the listing filtered by labels across pages.
 */
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { Allocation } from '../../lib/model.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freshStore, register, storeOn, val } from '../support/store.js';

const POOL = '[pools.vni]\ntype = "integer"\nranges = [{ start = 1000, end = 1500 }]';

async function fresh(): Promise<PoolStore> {
  const store = await freshStore();
  await register(store, POOL);
  return store;
}

async function listAll(store: PoolStore, labels: { key: string; value: string }[], limit: number): Promise<{ allocations: Allocation[]; pages: number }> {
  const allocations: Allocation[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await store.allocations('vni', { limit, after, labels });
    allocations.push(...page.allocations);
    after = page.next;
    pages++;
  } while (after);
  return { allocations, pages };
}

describe('labels', () => {
  test('set at allocation, shown everywhere, kept by a retry that sends others, and merge-patched without touching the value', async () => {
    const store = await fresh();
    const { allocation } = await store.allocate({ pool: 'vni', owner: 'vpc-42', labels: { vpc: 'vpc-42', site: 'dc1' }, by: 'arn:aws:iam::1:role/a' });
    expect(allocation).toMatchObject({ labels: { vpc: 'vpc-42', site: 'dc1' }, allocatedBy: 'arn:aws:iam::1:role/a' });
    const retry = await store.allocate({ pool: 'vni', owner: 'vpc-42', labels: { other: 'x' } });
    expect(retry.created).toBe(false);
    expect(retry.allocation.labels).toEqual({ vpc: 'vpc-42', site: 'dc1' });

    const patched = await store.relabel({ pool: 'vni', owner: 'vpc-42', patch: { site: null, tier: 'gold', vpc: 'vpc-42b' } });
    expect(patched.labels).toEqual({ vpc: 'vpc-42b', tier: 'gold' });
    expect({ value: patched.value, owner: patched.owner, allocatedAt: patched.allocatedAt }).toEqual({ value: allocation.value, owner: 'vpc-42', allocatedAt: allocation.allocatedAt });
    expect((await store.findByOwner('vni', 'vpc-42')).labels).toEqual({ vpc: 'vpc-42b', tier: 'gold' });
    expect((await store.findByValue('vni', val(Number(allocation.value)))).labels).toEqual({ vpc: 'vpc-42b', tier: 'gold' });
    // Removing every label leaves none.
    expect((await store.relabel({ pool: 'vni', owner: 'vpc-42', patch: { vpc: null, tier: null } })).labels).toEqual({});
    expect((await store.findByOwner('vni', 'vpc-42')).labels).toEqual({});
  });

  test('more than 16 labels after the merge is INVALID_ARGUMENT and changes nothing; an owner holding nothing is NOT_ALLOCATED', async () => {
    const store = await fresh();
    const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v']));
    await store.allocate({ pool: 'vni', owner: 'o', labels: sixteen });
    const e = await store.relabel({ pool: 'vni', owner: 'o', patch: { extra: 'v' } }).catch((x: unknown) => x);
    expect(isPoolError(e, 'INVALID_ARGUMENT')).toBe(true);
    expect((e as Error).message).toContain('at most 16 labels; this would give it 17');
    expect((await store.findByOwner('vni', 'o')).labels).toEqual(sixteen);
    // Replacing one is fine.
    expect(Object.keys((await store.relabel({ pool: 'vni', owner: 'o', patch: { k0: null, extra: 'v' } })).labels)).toHaveLength(16);
    expect(isPoolError(await store.relabel({ pool: 'vni', owner: 'nobody', patch: { a: 'b' } }).catch((x: unknown) => x), 'NOT_ALLOCATED')).toBe(true);
    expect(isPoolError(await store.relabel({ pool: 'nope', owner: 'o', patch: { a: 'b' } }).catch((x: unknown) => x), 'POOL_NOT_FOUND')).toBe(true);
  });

  test('12 clients patching one allocation at once: no patch is lost', async () => {
    const store = await fresh();
    await store.allocate({ pool: 'vni', owner: 'shared' });
    await Promise.all(Array.from({ length: 12 }, (_, i) => storeOn(store.tableName).relabel({ pool: 'vni', owner: 'shared', patch: { [`client-${i}`]: String(i) } })));
    expect((await store.findByOwner('vni', 'shared')).labels).toEqual(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`client-${i}`, String(i)])));
  });

  test('a patch racing a release never brings the allocation back', async () => {
    const store = await fresh();
    const other = storeOn(store.tableName);
    for (let i = 0; i < 15; i++) {
      const owner = `race-${i}`;
      await store.allocate({ pool: 'vni', owner });
      const [released, patched] = await Promise.allSettled([store.release({ pool: 'vni', owner }), other.relabel({ pool: 'vni', owner, patch: { n: String(i) } })]);
      expect(released.status).toBe('fulfilled');
      if (patched.status === 'rejected') expect(isPoolError(patched.reason, 'NOT_ALLOCATED'), String(patched.reason)).toBe(true);
      expect(isPoolError(await store.findByOwner('vni', owner).catch((x: unknown) => x), 'NOT_ALLOCATED')).toBe(true);
    }
    expect((await store.pool('vni')).used).toBe(0);
  });

  test('the listing filtered by labels: every filter must match, across pages, each match once', async () => {
    const store = await fresh();
    for (let i = 0; i < 40; i++) {
      await store.allocate({ pool: 'vni', owner: `o${i}`, labels: { vpc: i % 2 ? 'a' : 'b', site: i % 4 < 2 ? 'dc1' : 'dc2' } });
    }
    const a = await listAll(store, [{ key: 'vpc', value: 'a' }], 7);
    expect(a.allocations.map((x) => x.owner).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `o${2 * i + 1}`).sort());
    expect(a.pages).toBeGreaterThan(2);
    const both = await listAll(store, [{ key: 'vpc', value: 'a' }, { key: 'site', value: 'dc1' }], 100);
    expect(both.allocations.map((x) => x.owner).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `o${4 * i + 1}`).sort());
    expect(both.allocations.every((x) => x.labels.vpc === 'a' && x.labels.site === 'dc1')).toBe(true);
    // In value order, as without a filter.
    const values = a.allocations.map((x) => x.value);
    expect(values).toEqual([...values].sort((x, y) => (x < y ? -1 : 1)));
    expect((await listAll(store, [{ key: 'vpc', value: 'c' }], 10)).allocations).toEqual([]);
    expect((await listAll(store, [], 100)).allocations).toHaveLength(40);
  });
});
