/**
 * Import on DynamoDB Local: 1,000 allocations adopted in one call (kept allocated_at, labels,
 * blocks), idempotent when sent again, all or nothing on any conflict (with details per item), a dry
 * run that changes nothing, history entries `imported`, and an import racing allocations of the same
 * values: it is imported whole or not at all, and check agrees.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { PoolStore, ImportItem } from '../../lib/store/index.js';
import { blockOf, freshStore, register, storeOn, val } from '../support/store.js';
import { recordHistory, type RecordedHistory } from '../support/history.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 0, end = 4096 }]

[pools.lo]
type = "ipv4"
prefix = "10.0.0.0/24"
`;
const LAG = { indexLagMs: 50 };

const item = (value: number, owner: string, extra: Partial<ImportItem> = {}): ImportItem => ({ pool: 'vni', owner, value: val(value), ...extra });

describe('import', () => {
  let store: PoolStore;
  let history: RecordedHistory;
  beforeAll(async () => {
    store = await freshStore({}, { changeStream: true });
    history = await recordHistory(store);
    await register(store, POOLS);
  });
  afterAll(async () => {
    await history.stream.stop();
  });

  test('1,000 allocations in one call, kept as given; the same call again changes nothing', { timeout: 120_000 }, async () => {
    const items = Array.from({ length: 1000 }, (_, i) => item(i * 2, `vpc-${i}`, i === 0 ? { allocatedAt: '2024-05-01T08:00:00.000Z', labels: { site: 'dc1' } } : {}));
    expect(await store.importAllocations('vni', items, { by: 'operator' })).toEqual({ imported: 1000, unchanged: 0 });
    expect(await store.pool('vni')).toMatchObject({ used: 1000 });
    expect(await store.findByOwner('vni', 'vpc-0')).toMatchObject({ value: 0n, allocatedAt: '2024-05-01T08:00:00.000Z', labels: { site: 'dc1' }, allocatedBy: 'operator' });
    expect((await store.findByValue('vni', val(1998))).owner).toBe('vpc-999');
    expect(await store.importAllocations('vni', items)).toEqual({ imported: 0, unchanged: 1000 });
    // Imported values are held: allocations pass them over.
    await expect(store.allocate({ pool: 'vni', owner: 'other', value: val(10) })).rejects.toMatchObject({ code: 'VALUE_IN_USE' });
    expect((await store.check({ pool: 'vni', ...LAG })).ok).toBe(true);

    await history.settle();
    const page = await store.history({ pool: 'vni', owner: 'vpc-0', limit: 10 });
    expect(page.entries.map((e) => [e.event, e.by, e.value])).toEqual([['imported', 'operator', 0n]]);
    expect(history.events.filter((e) => e.event === 'imported')).toHaveLength(1000);
  });

  test('any conflict rejects the whole call with details per item, and nothing changes', async () => {
    await store.allocate({ pool: 'vni', owner: 'holder', value: val(3001) });
    const before = (await store.pool('vni')).used;
    const call = store.importAllocations('vni', [
      item(3000, 'fine'),
      item(3001, 'someone-else'), // held by another owner
      item(3002, 'vpc-1'), // vpc-1 holds 2
      item(99999, 'outside'),
      item(3004, 'fine'), // the same owner twice
      item(3000, 'again'), // the same value twice
    ]);
    const error = await call.catch((e: unknown) => e);
    expect(isPoolError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'VALUE_IN_USE', message: expect.stringContaining('nothing was imported') });
    expect((error as { details: { index: number; code: string }[] }).details.map((d) => [d.index, d.code])).toEqual([
      [1, 'VALUE_IN_USE'],
      [2, 'OWNER_CONFLICT'],
      [3, 'VALUE_NOT_IN_POOL'],
      [4, 'INVALID_ARGUMENT'],
      [5, 'INVALID_ARGUMENT'],
    ]);
    expect((await store.pool('vni')).used).toBe(before);
    await expect(store.findByOwner('vni', 'fine')).rejects.toMatchObject({ code: 'NOT_ALLOCATED' });
  });

  test('a dry run judges every item and changes nothing; a disabled pool takes imports; blocks and CIDRs are imported whole', async () => {
    expect(await store.importAllocations('vni', [item(3100, 'dry'), item(0, 'vpc-0')], { dryRun: true })).toEqual({ imported: 1, unchanged: 1 });
    await expect(store.findByOwner('vni', 'dry')).rejects.toMatchObject({ code: 'NOT_ALLOCATED' });

    await store.setDisabled('vni', true);
    expect(await store.importAllocations('vni', [item(3200, 'block', { size: blockOf(16) })])).toEqual({ imported: 1, unchanged: 0 });
    await store.setDisabled('vni', false);
    expect(await store.findByValue('vni', val(3215))).toMatchObject({ owner: 'block', value: 3200n, size: 16 });
    await expect(store.importAllocations('vni', [item(3305, 'unaligned', { size: blockOf(16) })])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

    const cidr = { pool: 'lo', owner: 'subnet', value: () => ({ ok: true as const, value: 0x0a000010n }), size: blockOf(16) };
    expect(await store.importAllocations('lo', [cidr, { pool: 'lo', owner: 'one', value: val('10.0.0.5') }])).toEqual({ imported: 2, unchanged: 0 });
    expect((await store.findByValue('lo', val('10.0.0.20'))).owner).toBe('subnet');
    await expect(store.importAllocations('nope', [item(1, 'x')])).rejects.toMatchObject({ code: 'POOL_NOT_FOUND' });
    await expect(store.importAllocations('vni', [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

test('an import racing allocations of the same values is imported whole or not at all', { timeout: 180_000 }, async () => {
  const store = await freshStore();
  await register(store, `[pools.race]\ntype = "integer"\nranges = [{ start = 0, end = 2048 }]`);
  let whole = 0;
  let refused = 0;
  for (let round = 0; round < 4; round++) {
    const base = round * 400;
    const items = Array.from({ length: 300 }, (_, i) => ({ pool: 'race', owner: `imp-${round}-${i}`, value: val(base + i) }));
    // Clients take values of the import's set, explicitly, while it runs.
    const clients = Array.from({ length: 3 }, async (_, c) => {
      const s = storeOn(store.tableName);
      const got: bigint[] = [];
      for (let k = 0; k < 10; k++) {
        const v = base + ((c * 97 + k * 31 + round * 13) % 300);
        try {
          got.push((await s.allocate({ pool: 'race', owner: `client-${round}-${c}-${k}`, value: val(v) })).allocation.value);
        } catch (e) {
          if (!isPoolError(e, 'VALUE_IN_USE')) throw e;
        }
      }
      return got;
    });
    const imported = store.importAllocations('race', items).then(
      () => true,
      (e: unknown) => {
        if (!isPoolError(e, 'VALUE_IN_USE')) throw e;
        return false;
      },
    );
    const [ok, ...taken] = await Promise.all([imported, ...clients]);
    const held = (await store.allocations('race', { limit: 1000 })).allocations.filter((a) => a.owner.startsWith(`imp-${round}-`));
    if (ok) {
      whole++;
      expect(held).toHaveLength(300);
      expect(taken.flat()).toEqual([]);
    } else {
      refused++;
      expect(held).toEqual([]);
    }
  }
  expect(whole + refused).toBe(4);
  expect((await store.check(LAG)).ok).toBe(true);
});
