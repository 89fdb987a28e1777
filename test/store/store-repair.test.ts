/**
 * Repair on DynamoDB Local, next to allocations: it mends exactly what check confirms (a leaked bit,
 * a record whose bit is clear, a wrong count), records each mend in history, changes nothing in a dry
 * run, leaves what has no safe mend (a value held twice) for a person, and never frees a live
 * allocation of a busy pool. A value whose record was deleted by hand is looked up truthfully (not
 * UNAVAILABLE) even while its chunk keeps being written.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { getBit } from '../../lib/store/bitmap.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import { encodeHolding } from '../../lib/store/items.js';
import { chunkKey, holdingKey } from '../../lib/store/keys.js';
import type { PoolStore, RepairReport } from '../../lib/store/index.js';
import { freshStore, register, storeOn, testClient, val } from '../support/store.js';
import { codeOf } from '../support/concurrency.js';

const LAG = { indexLagMs: 50 };
// 8 values a chunk: the manual range's 1000-1007 is chunk 128. `hot` is two chunks that the load keeps writing.
const POOL = `[pools.busy]\ntype = "integer"\nranges = [{ start = 0, end = 1024 }, { start = 1000000, end = 1000064, auto_assign = false }]`;
const HOT = `[pools.hot]\ntype = "integer"\nranges = [{ start = 5000, end = 5032 }]`;

/** Clients allocating and releasing in the auto_assign range until stopped; every release must find what its allocation got. */
function load(tableName: string, clients: number, pool = 'busy') {
  let running = true;
  const errors: unknown[] = [];
  let operations = 0;
  const done = Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const s = storeOn(tableName);
      for (let k = 0; running; k++) {
        try {
          const got = await s.allocate({ pool, owner: `load-${c}-${k % 3}` });
          const released = await s.release({ pool, owner: got.allocation.owner });
          expect(released.value).toBe(got.allocation.value);
          operations += 2;
        } catch (e) {
          if (!isPoolError(e, 'RESOURCE_EXHAUSTED')) errors.push(e);
        }
      }
    }),
  );
  return {
    async stop() {
      running = false;
      await done;
      expect(errors).toEqual([]);
      expect(operations).toBeGreaterThan(0);
    },
  };
}

/**
 * Repairs (or dry runs) until `count` distinct problems were answered, at most a few calls: a
 * disagreement in a chunk the load keeps writing cannot be confirmed in every call (the check
 * counts it only when the chunk stood still between its two reads), so an operator runs it again.
 */
async function untilSeen(run: () => Promise<RepairReport>, count: number): Promise<RepairReport['repaired']> {
  const seen = new Map<string, RepairReport['repaired'][number]>();
  for (let call = 0; call < 5 && seen.size < count; call++) for (const r of (await run()).repaired) seen.set(r.problem, r);
  return [...seen.values()];
}

describe('repair next to the load', () => {
  let store: PoolStore;
  let busy: ReturnType<typeof load>;
  let hot: ReturnType<typeof load>;
  const client = testClient();

  beforeAll(async () => {
    store = await freshStore();
    await register(store, POOL);
    await register(store, HOT);
    // Leaked: values whose records are deleted by hand. The hot one's chunk keeps being written by the
    // load; the other's stands still, so that a check can confirm it (a check counts a disagreement
    // only when its chunk did not change between two reads).
    for (const pool of ['busy', 'hot']) {
      await store.allocate({ pool, owner: 'leaky', value: val(pool === 'hot' ? 5003 : 1000030) });
      await client.send(new DeleteItemCommand({ TableName: store.tableName, Key: marshall(holdingKey(pool, 'leaky')) }));
    }
    // A record whose bit is cleared by hand (chunk 128: 1000000-1000007).
    await store.allocate({ pool: 'busy', owner: 'cleared', value: val(1000001) });
    await client.send(
      new UpdateItemCommand({
        TableName: store.tableName,
        Key: marshall(chunkKey('busy', 128)),
        UpdateExpression: 'SET bits = :b, used = :zero, ver = ver + :one',
        ExpressionAttributeValues: marshall({ ':b': new Uint8Array([0]), ':zero': 0, ':one': 1 }),
      }),
    );
    // A wrong count (chunk 129: 1000008-1000015).
    await store.allocate({ pool: 'busy', owner: 'counted', value: val(1000010) });
    await client.send(
      new UpdateItemCommand({
        TableName: store.tableName,
        Key: marshall(chunkKey('busy', 129)),
        UpdateExpression: 'SET used = :u, ver = ver + :one',
        ExpressionAttributeValues: marshall({ ':u': 5, ':one': 1 }),
      }),
    );
    // A value held by two records: no safe mend.
    await store.allocate({ pool: 'busy', owner: 'first', value: val(1000020) });
    await client.send(
      new PutItemCommand({
        TableName: store.tableName,
        Item: marshall(encodeHolding({ pool: 'busy', type: 'integer', owner: 'second', value: 1000020n, size: 1, at: new Date().toISOString(), rid: 'by-hand' }), { removeUndefinedValues: true }),
      }),
    );
    busy = load(store.tableName, 3);
    hot = load(store.tableName, 2, 'hot');
  });
  afterAll(async () => {
    await busy.stop();
    await hot.stop();
  });

  test('a leaked value is looked up truthfully while its chunk keeps changing: NOT_ALLOCATED, never UNAVAILABLE', { timeout: 60_000 }, async () => {
    const fast = storeOn(store.tableName, { budgetMs: 8000 });
    for (let i = 0; i < 3; i++) expect(await codeOf(fast.findByValue('busy', val(3)))).toBe('NOT_ALLOCATED');
    expect((await fast.findByValue('busy', val(1000010))).owner).toBe('counted');
  });

  test('a dry run lists every mend and changes nothing; the repair mends them, records them, and check agrees', { timeout: 120_000 }, async () => {
    const dry = await untilSeen(() => store.repair({ pool: 'busy', dryRun: true, ...LAG }), 3);
    expect(dry.map((r) => r.problem).sort()).toEqual(
      [
        '1000030 is marked allocated but has no allocation record (leaked)',
        "owner 'cleared' holds 1000001 but its bit is clear (the value could be handed out again)",
        'chunk 129 counts 5 used but has 1 bits set',
      ].sort(),
    );
    expect(dry.every((r) => r.action.includes('would be'))).toBe(true);
    // Nothing changed: the leaked bit is still set, the wrong count still wrong, the cleared bit still clear.
    const chunk = async (n: number) => unmarshall((await client.send(new GetItemCommand({ TableName: store.tableName, Key: marshall(chunkKey('busy', n)), ConsistentRead: true }))).Item ?? {});
    expect(getBit((await chunk(131)).bits as Uint8Array, 6)).toBe(true);
    expect((await chunk(129)).used).toBe(5);
    expect(getBit((await chunk(128)).bits as Uint8Array, 1)).toBe(false);

    const done = await untilSeen(() => store.repair({ pool: 'busy', by: 'operator', ...LAG }), 3);
    expect(done).toHaveLength(3);
    expect(done.map((r) => r.action).join('\n')).not.toContain('would be');
    const after = await store.check({ pool: 'busy', ...LAG });
    // Only the double holding is left, for a person.
    expect(after.pools[0].problems).toEqual(["1000020 is held by 'first' and 'second'"]);

    // The leaked value is free again; the cleared one is held (by the record) again.
    expect(await codeOf(store.findByValue('busy', val(1000030)))).toBe('NOT_ALLOCATED');
    expect((await store.allocate({ pool: 'busy', owner: 'reuse', value: val(1000030) })).created).toBe(true);
    expect((await store.findByValue('busy', val(1000001))).owner).toBe('cleared');
    await expect(store.allocate({ pool: 'busy', owner: 'another', value: val(1000001) })).rejects.toMatchObject({ code: 'VALUE_IN_USE' });
    const history = await store.history({ pool: 'busy', limit: 100 });
    const repaired = history.entries.filter((e) => e.event === 'repaired');
    expect(repaired.map((e) => [e.value, e.owner, e.by]).sort()).toEqual([
      [1000001n, 'cleared', 'operator'],
      [1000030n, '', 'operator'],
    ]);

    // Nothing left to mend: a second repair does nothing.
    expect((await store.repair({ pool: 'busy', ...LAG })).repaired).toEqual([]);
  });
});

test('repairing a busy, healthy pool mends nothing and frees no live allocation', { timeout: 120_000 }, async () => {
  const store = await freshStore();
  await register(store, POOL);
  const busy = load(store.tableName, 8);
  try {
    for (let i = 0; i < 3; i++) expect((await store.repair({ pool: 'busy', ...LAG })).repaired).toEqual([]);
  } finally {
    await busy.stop();
  }
  expect((await store.check(LAG)).ok).toBe(true);
});
