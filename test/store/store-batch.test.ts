/**
 * Batches on DynamoDB Local: allocations in several pools all or nothing, the same chunk taken by
 * several items of one batch, idempotent retries, errors per item, identical batches racing each
 * other and single allocations racing batches; releases in one step with their history entries.
 */
import { describe, expect, test } from 'vitest';
import { isPoolError, type PoolError } from '../../lib/errors.js';
import type { AllocationRequest, BatchAllocated } from '../../lib/model.js';
import type { PoolStore } from '../../lib/store/index.js';
import { interceptedClient } from '../support/faults.js';
import { releasedEntries, scanTable } from '../support/scan.js';
import { blockOf, freshStore, register, storeOn, val } from '../support/store.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 7000, end = 7064 }]

[pools.tiny]
type = "integer"
ranges = [{ start = 96, end = 104 }]

[pools.lo]
type = "ipv4"
prefix = "10.5.0.0/24"

[pools.tenant]
type = "ipv4"
ranges = [{ start = "10.6.0.0", end = "10.6.16.0" }]

[pools.v6]
type = "ipv6"
prefix = "2001:db8:5::/120"
`;

async function setup(): Promise<PoolStore> {
  const store = await freshStore();
  await register(store, POOLS);
  return store;
}

async function failure(p: Promise<unknown>): Promise<PoolError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isPoolError(e)) throw new Error(`expected a PoolError, got ${String(e)}`);
  return e;
}

const items = (n: number, pool: string, prefix: string): AllocationRequest[] => Array.from({ length: n }, (_, i) => ({ pool, owner: `${prefix}-${i}` }));

/** An allocation as compared across answers: what is held, by whom. */
const held = (b: BatchAllocated) => b.allocations.map((a) => `${a.pool}/${a.owner}=${a.value}+${a.size}`);

describe('batches of allocations', () => {
  test('mixed pools and types in one batch: held as asked, in item order; a retry answers the same with created false', async () => {
    const store = await setup();
    const batch: AllocationRequest[] = [
      { pool: 'vni', owner: 'vpc-1', labels: { vpc: 'vpc-1' }, by: 'tester' },
      { pool: 'lo', owner: 'vpc-1' },
      { pool: 'tenant', owner: 'vpc-1', size: blockOf(16) },
      { pool: 'vni', owner: 'vpc-1-explicit', value: val(7033) },
      { pool: 'v6', owner: 'vpc-1' },
      { pool: 'vni', owner: 'vpc-1-block', size: blockOf(4) },
    ];
    const made = await store.allocateBatch(batch);
    expect(made.created).toBe(true);
    expect(made.allocations.map((a) => [a.pool, a.owner, a.size])).toEqual(batch.map((b, i) => [b.pool, b.owner, [1, 1, 16, 1, 1, 4][i]]));
    expect(made.allocations[0]).toMatchObject({ labels: { vpc: 'vpc-1' }, allocatedBy: 'tester' });
    expect(made.allocations[3].value).toBe(7033n);
    expect(made.allocations[2].value % 16n).toBe(0n);
    expect(made.allocations[5].value % 4n).toBe(0n);
    for (const a of made.allocations) expect(await store.findByOwner(a.pool, a.owner)).toEqual(a);
    expect((await store.pool('vni')).used).toBe(1 + 1 + 4);
    expect((await store.pool('tenant')).used).toBe(16);

    const again = await store.allocateBatch(batch);
    expect(again).toEqual({ allocations: made.allocations, created: false });
    expect((await store.pool('vni')).used).toBe(6);
    expect((await store.check()).ok).toBe(true);
  });

  test('items landing in one chunk get distinct values: one write per chunk; the ninth of eight values fails the whole batch', async () => {
    const store = await setup();
    // tiny is 96-103: one chunk of eight values.
    const whole = await store.allocateBatch([{ pool: 'tiny', owner: 'x', value: val(99) }, ...items(7, 'tiny', 't')]);
    const values = whole.allocations.map((a) => a.value);
    expect(new Set(values).size).toBe(8);
    expect([...values].sort((x, y) => Number(x - y))).toEqual([96n, 97n, 98n, 99n, 100n, 101n, 102n, 103n]);
    expect(values[0]).toBe(99n);
    expect((await store.pool('tiny')).used).toBe(8);
    expect((await store.check()).ok).toBe(true);

    const fresh = await setup();
    const before = await scanTable(fresh.tableName);
    const err = await failure(fresh.allocateBatch([...items(3, 'vni', 'v'), ...items(9, 'tiny', 't')]));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.details).toEqual([{ index: 11, code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/earlier items of the batch take the last ones/) }]);
    expect(err.message).toMatch(/^item 11 of the batch: .*nothing was allocated$/);
    expect(await scanTable(fresh.tableName)).toEqual(before);
  });

  test('a batch whose last item hits VALUE_IN_USE leaves every pool as it was', async () => {
    const store = await setup();
    await store.allocate({ pool: 'tiny', owner: 'holder', value: val(100) });
    // Not at random: a random value could be the 7001 that item 1 names (1 run in 64 failed so).
    await store.allocate({ pool: 'vni', owner: 'earlier', value: val(7040) });
    await store.allocate({ pool: 'tenant', owner: 'earlier', size: blockOf(16) });
    const before = await scanTable(store.tableName);
    const err = await failure(
      store.allocateBatch([
        { pool: 'vni', owner: 'vpc-9' },
        { pool: 'vni', owner: 'vpc-9-x', value: val(7001) },
        { pool: 'lo', owner: 'vpc-9' },
        { pool: 'tenant', owner: 'vpc-9', size: blockOf(16) },
        { pool: 'v6', owner: 'vpc-9' },
        { pool: 'tiny', owner: 'vpc-9' },
        { pool: 'tiny', owner: 'vpc-9-x', value: val(100) },
      ]),
    );
    expect(err.code).toBe('VALUE_IN_USE');
    expect(err.details).toEqual([{ index: 6, code: 'VALUE_IN_USE', message: "100 in pool 'tiny' is held by another owner" }]);
    expect(await scanTable(store.tableName)).toEqual(before);
    expect((await store.check()).ok).toBe(true);
  });

  test('errors per item: the status is the lowest index that failed, and every failure found is listed', async () => {
    const store = await setup();
    await store.allocate({ pool: 'vni', owner: 'has-one', value: val(7002) });
    const err = await failure(
      store.allocateBatch([
        { pool: 'vni', owner: 'fine' },
        { pool: 'nope', owner: 'a' },
        { pool: 'vni', owner: 'b', value: val(9000) },
        { pool: 'vni', owner: 'has-one', value: val(7003) },
        { pool: 'lo', owner: 'c', value: val(5) },
        { pool: 'bad name!', owner: 'd' },
      ]),
    );
    expect(err.code).toBe('POOL_NOT_FOUND');
    expect((err.details as { index: number; code: string }[]).map((d) => [d.index, d.code])).toEqual([
      [1, 'POOL_NOT_FOUND'],
      [2, 'VALUE_NOT_IN_POOL'],
      [3, 'OWNER_CONFLICT'],
      [4, 'INVALID_ARGUMENT'],
      [5, 'POOL_NOT_FOUND'],
    ]);
    expect(err.message).toMatch(/^item 1 of the batch: no pool named 'nope' \(4 more items failed: 2, 3, 4, 5\); nothing was allocated$/);
    // Only the single allocation made before.
    expect((await store.pool('vni')).used).toBe(1);
    expect((await store.pool('lo')).used).toBe(0);
  });

  test('the same (pool, owner) twice, no item, 26 items, overlapping explicit values: INVALID_ARGUMENT, nothing allocated', async () => {
    const store = await setup();
    const twice = await failure(store.allocateBatch([{ pool: 'vni', owner: 'a' }, { pool: 'lo', owner: 'a' }, { pool: 'vni', owner: 'a', value: val(7005) }]));
    expect(twice.code).toBe('INVALID_ARGUMENT');
    expect(twice.details).toEqual([{ index: 2, code: 'INVALID_ARGUMENT', message: "pool 'vni' and owner 'a' are already item 0 of this batch; a batch names each (pool, owner) once" }]);
    expect((await failure(store.allocateBatch([]))).message).toBe('a batch holds 1 to 25 items; got 0');
    const many = await failure(store.allocateBatch(items(26, 'vni', 'm')));
    expect(many.code).toBe('INVALID_ARGUMENT');
    expect(many.message).toMatch(/1 to 25 items; got 26: split it/);
    const overlap = await failure(store.allocateBatch([{ pool: 'tenant', owner: 'a', value: val('10.6.0.0'), size: blockOf(16) }, { pool: 'tenant', owner: 'b', value: val('10.6.0.8') }]));
    expect(overlap.code).toBe('INVALID_ARGUMENT');
    expect(overlap.details).toEqual([{ index: 1, code: 'INVALID_ARGUMENT', message: "what it asks for overlaps what item 0 of this batch asks for in pool 'tenant'" }]);
    expect((await store.pools()).every((p) => p.used === 0)).toBe(true);
  });

  test('a batch that one transaction cannot hold (blocks spanning many chunks) is INVALID_ARGUMENT naming the count', async () => {
    const store = await freshStore();
    // A /16 in 1,024 chunks of 64 addresses: a /20 spans 64 of them.
    await register(store, '[pools.wide]\ntype = "ipv4"\nprefix = "10.7.0.0/16"');
    const err = await failure(store.allocateBatch([{ pool: 'wide', owner: 'a', size: blockOf(4096) }, { pool: 'wide', owner: 'b', size: blockOf(4096) }]));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/would write 130 items and one transaction takes 100: split it/);
    const one = await store.allocateBatch([{ pool: 'wide', owner: 'a', size: blockOf(4096) }, { pool: 'wide', owner: 'c' }]);
    expect(one.allocations.map((a) => a.size)).toEqual([4096, 1]);
    expect((await store.pool('wide')).used).toBe(4097);
    // Releasing both /20s in one batch would write 64 + 64 chunks, 2 records, 2 history entries.
    await store.allocate({ pool: 'wide', owner: 'b', size: blockOf(4096) });
    const release = await failure(store.releaseBatch([{ pool: 'wide', owner: 'a' }, { pool: 'wide', owner: 'b' }]));
    expect(release.message).toMatch(/would write 132 items and one transaction takes 100/);
    expect((await store.pool('wide')).used).toBe(8193);
  });

  test('an item already held is answered only if still held when the batch lands: released meanwhile, it is allocated again', async () => {
    const store = await setup();
    const first = await store.allocate({ pool: 'vni', owner: 'kept', value: val(7040) });
    const mixed = await store.allocateBatch([{ pool: 'vni', owner: 'kept', value: val(7040) }, { pool: 'lo', owner: 'kept' }]);
    expect(mixed.created).toBe(true);
    expect(mixed.allocations[0]).toEqual(first.allocation);
    // The same batch again, with a release of the held item landing between its read and its transaction.
    const other = storeOn(store.tableName);
    let released = false;
    const client = interceptedClient(async (command, _input, send) => {
      if (command === 'TransactWriteItemsCommand' && !released) {
        released = true;
        await other.release({ pool: 'vni', owner: 'kept' });
      }
      return send();
    });
    const raced = storeOn(store.tableName, { client });
    const answer = await raced.allocateBatch([{ pool: 'vni', owner: 'kept', value: val(7040) }, { pool: 'vni', owner: 'new-one' }]);
    expect(released).toBe(true);
    expect(answer.created).toBe(true);
    expect(answer.allocations[0].value).toBe(7040n);
    expect(answer.allocations[0].allocatedAt).not.toBe(first.allocation.allocatedAt);
    expect(await store.findByOwner('vni', 'kept')).toEqual(answer.allocations[0]);
    expect((await store.check()).ok).toBe(true);
  });

  test('20 concurrent identical batches: one creates, 19 answer the same allocations as already held', async () => {
    const store = await setup();
    const batch: AllocationRequest[] = [
      { pool: 'vni', owner: 'same' },
      { pool: 'vni', owner: 'same-2', value: val(7050) },
      { pool: 'lo', owner: 'same' },
      { pool: 'tenant', owner: 'same', size: blockOf(64) },
      { pool: 'tiny', owner: 'same' },
      { pool: 'tiny', owner: 'same-2' },
    ];
    const answers = await Promise.all(Array.from({ length: 20 }, () => storeOn(store.tableName).allocateBatch(batch)));
    expect(answers.filter((a) => a.created)).toHaveLength(1);
    const winner = answers.find((a) => a.created) as BatchAllocated;
    for (const a of answers) expect(a.allocations).toEqual(winner.allocations);
    expect(new Set(answers.map((a) => held(a).join(' '))).size).toBe(1);
    expect((await store.pools()).map((p) => [p.name, p.used])).toEqual([
      ['lo', 1],
      ['tenant', 64],
      ['tiny', 2],
      ['v6', 0],
      ['vni', 2],
    ]);
    expect((await store.check()).ok).toBe(true);
  });

  test('batches racing single allocations on small pools never leave a partial batch', async () => {
    const store = await freshStore();
    for (let round = 0; round < 4; round++) {
      // Two pools of eight values (one chunk each), oversubscribed: batches and singles collide and some must fail.
      await register(store, `[pools.a${round}]\ntype = "integer"\nranges = [{ start = ${round * 100}, end = ${round * 100 + 8} }]\n[pools.b${round}]\ntype = "integer"\nranges = [{ start = ${round * 100 + 50}, end = ${round * 100 + 58} }]`);
      const a = `a${round}`;
      const b = `b${round}`;
      const batches = Array.from({ length: 4 }, (_, k) => [
        { pool: a, owner: `batch-${k}` },
        { pool: a, owner: `batch-${k}-2` },
        { pool: b, owner: `batch-${k}` },
      ]);
      const singles = Array.from({ length: 6 }, (_, k) => ({ pool: k % 2 ? a : b, owner: `single-${k}` }));
      const outcomes = await Promise.all([
        ...batches.map((batch) => storeOn(store.tableName).allocateBatch(batch).then(() => 'ok', (e: unknown) => (isPoolError(e) ? e.code : String(e)))),
        ...singles.map((s) => storeOn(store.tableName).allocate(s).then(() => 'ok', (e: unknown) => (isPoolError(e) ? e.code : String(e)))),
      ]);
      expect(outcomes.every((o) => o === 'ok' || o === 'RESOURCE_EXHAUSTED'), outcomes.join(',')).toBe(true);
      for (const [k, batch] of batches.entries()) {
        const holds = await Promise.all(batch.map((i) => store.findByOwner(i.pool, i.owner).then(() => true, () => false)));
        expect(holds.every((h) => h === holds[0]), `round ${round} batch ${k}: ${holds.join(',')}`).toBe(true);
        expect(holds[0], `round ${round} batch ${k}`).toBe(outcomes[k] === 'ok');
      }
      const listed = [...(await store.allocations(a, { limit: 100 })).allocations, ...(await store.allocations(b, { limit: 100 })).allocations];
      const usedA = (await store.pool(a)).used;
      const usedB = (await store.pool(b)).used;
      expect(usedA + usedB).toBe(listed.length);
      expect(usedA).toBeLessThanOrEqual(8);
      expect(new Set(listed.map((l) => `${l.pool}/${l.value}`)).size).toBe(listed.length);
    }
    const report = await store.check();
    expect(report.pools.flatMap((p) => p.problems)).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

describe('batches of releases', () => {
  test('releases what is held in one step, released false for what is not; one released history entry per release', async () => {
    const store = await setup();
    const made = await store.allocateBatch([
      { pool: 'vni', owner: 'r' },
      { pool: 'tiny', owner: 'r' },
      { pool: 'tiny', owner: 'r-2' },
      { pool: 'tenant', owner: 'r', size: blockOf(16) },
      { pool: 'lo', owner: 'stays' },
    ]);
    const answer = await store.releaseBatch(
      [
        { pool: 'vni', owner: 'r' },
        { pool: 'tiny', owner: 'r' },
        { pool: 'tiny', owner: 'r-2' },
        { pool: 'tenant', owner: 'r' },
        { pool: 'lo', owner: 'nobody' },
      ],
      'tester',
    );
    expect(answer).toEqual([
      { pool: 'vni', owner: 'r', released: true, allocation: made.allocations[0] },
      { pool: 'tiny', owner: 'r', released: true, allocation: made.allocations[1] },
      { pool: 'tiny', owner: 'r-2', released: true, allocation: made.allocations[2] },
      { pool: 'tenant', owner: 'r', released: true, allocation: made.allocations[3] },
      { pool: 'lo', owner: 'nobody', released: false },
    ]);
    expect((await store.pools()).map((p) => [p.name, p.used])).toEqual([
      ['lo', 1],
      ['tenant', 0],
      ['tiny', 0],
      ['v6', 0],
      ['vni', 0],
    ]);
    const entries = await releasedEntries(store.tableName);
    expect(entries.map((e) => `${String(e.hpool)}/${String(e.howner)}`).sort()).toEqual(['tenant/r', 'tiny/r', 'tiny/r-2', 'vni/r']);
    expect(new Set(entries.map((e) => e.rid)).size).toBe(1);
    expect(entries.every((e) => e.by === 'tester')).toBe(true);
    expect(entries.find((e) => e.hpool === 'tenant')).toMatchObject({ value: expect.stringMatching(/^10\.6\.\d+\.\d+\/28$/), size: 16 });
    // Again: nothing is held any more, nothing is released, no entry is added.
    expect((await store.releaseBatch([{ pool: 'vni', owner: 'r' }])).map((r) => r.released)).toEqual([false]);
    expect(await releasedEntries(store.tableName)).toHaveLength(4);
    expect((await store.check()).ok).toBe(true);
  });

  test('unknown pools and repeated items fail the whole batch: nothing is released', async () => {
    const store = await setup();
    await store.allocateBatch([{ pool: 'vni', owner: 'k' }, { pool: 'lo', owner: 'k' }]);
    const before = await scanTable(store.tableName);
    const unknown = await failure(store.releaseBatch([{ pool: 'vni', owner: 'k' }, { pool: 'nope', owner: 'k' }, { pool: 'nope-2', owner: 'k' }]));
    expect(unknown.code).toBe('POOL_NOT_FOUND');
    expect(unknown.details).toEqual([
      { index: 1, code: 'POOL_NOT_FOUND', message: "no pool named 'nope'" },
      { index: 2, code: 'POOL_NOT_FOUND', message: "no pool named 'nope-2'" },
    ]);
    const twice = await failure(store.releaseBatch([{ pool: 'lo', owner: 'k' }, { pool: 'lo', owner: 'k' }]));
    expect(twice.code).toBe('INVALID_ARGUMENT');
    expect((await failure(store.releaseBatch(items(26, 'vni', 'x')))).code).toBe('INVALID_ARGUMENT');
    expect(await scanTable(store.tableName)).toEqual(before);
  });

  test('an item released by another call between the read and the transaction is released false; the rest are released', async () => {
    const store = await setup();
    await store.allocateBatch([{ pool: 'tiny', owner: 'p' }, { pool: 'tiny', owner: 'q' }, { pool: 'vni', owner: 'p' }]);
    const other = storeOn(store.tableName);
    let raced = false;
    const client = interceptedClient(async (command, _input, send) => {
      if (command === 'TransactWriteItemsCommand' && !raced) {
        raced = true;
        await other.release({ pool: 'tiny', owner: 'q' });
        // And another owner takes a value in the same chunk: the batch's chunk write must be made again.
        await other.allocate({ pool: 'tiny', owner: 'newcomer' });
      }
      return send();
    });
    const answer = await storeOn(store.tableName, { client }).releaseBatch([{ pool: 'tiny', owner: 'p' }, { pool: 'tiny', owner: 'q' }, { pool: 'vni', owner: 'p' }], 'batch');
    expect(answer.map((r) => r.released)).toEqual([true, false, true]);
    expect((await store.pool('tiny')).used).toBe(1);
    expect((await store.findByOwner('tiny', 'newcomer')).owner).toBe('newcomer');
    const entries = await releasedEntries(store.tableName);
    expect(entries.map((e) => `${String(e.howner)}:${String(e.by)}`).sort()).toEqual(['p:batch', 'p:batch', 'q:unknown']);
    expect((await store.check()).ok).toBe(true);
  });
});
