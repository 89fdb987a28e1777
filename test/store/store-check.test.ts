/**
 * check while the pool is in use: a busy, healthy pool is ok every time, and every kind of real
 * disagreement is reported every time, even next to the load; every call is bounded and a cursor
 * continues it.
 */
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { CheckReport } from '../../lib/model.js';
import { encodeHolding } from '../../lib/store/items.js';
import { chunkKey, holdingKey } from '../../lib/store/keys.js';
import { PoolStore } from '../../lib/store/index.js';
import { freshStore, register, storeOn, testClient, val } from '../support/store.js';

/** The index lag a check waits before its second read; DynamoDB Local's index has none. */
const LAG = { indexLagMs: 50 };
const POOL = `[pools.busy]\ntype = "integer"\nranges = [{ start = 0, end = 2048 }, { start = 10000, end = 10064, auto_assign = false }]`;

/** Clients allocating and releasing their own owners in a loop until stopped. */
function load(tableName: string, clients: number) {
  let running = true;
  let operations = 0;
  const errors: unknown[] = [];
  const done = Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const store = storeOn(tableName);
      for (let k = 0; running; k++) {
        const owner = `load-${c}-${k % 5}`;
        try {
          await store.allocate({ pool: 'busy', owner });
          await store.release({ pool: 'busy', owner });
          operations += 2;
        } catch (e) {
          errors.push(e);
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

async function checkAll(store: PoolStore, opts: Parameters<PoolStore['check']>[0] = {}): Promise<CheckReport> {
  const merged: CheckReport = { ok: true, pools: [], next_cursor: null };
  let cursor: string | undefined;
  do {
    const page = await store.check({ ...LAG, ...opts, cursor });
    for (const p of page.pools) {
      const seen = merged.pools.find((x) => x.name === p.name);
      if (seen) seen.problems.push(...p.problems);
      else merged.pools.push({ ...p, problems: [...p.problems] });
    }
    merged.ok &&= page.ok;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return merged;
}

describe('check under load', () => {
  let store: PoolStore;
  beforeAll(async () => {
    store = await freshStore();
    await register(store, POOL);
  });

  test('20 checks while 8 clients allocate and release: ok every time', { timeout: 240_000 }, async () => {
    const busy = load(store.tableName, 8);
    try {
      for (let i = 0; i < 20; i++) {
        const report = await checkAll(store, { pool: 'busy' });
        expect(report.pools[0].problems, `check ${i + 1}`).toEqual([]);
        expect(report.ok).toBe(true);
      }
    } finally {
      await busy.stop();
    }
  });

  describe('real disagreements, made by hand next to the load, are reported in every check', () => {
    const client = testClient();
    let busy: ReturnType<typeof load>;
    beforeAll(async () => {
      // A value of the busy auto_assign range whose allocation record goes: leaked (its chunk stays busy).
      await store.allocate({ pool: 'busy', owner: 'leaky', value: val(1000) });
      await client.send(new DeleteItemCommand({ TableName: store.tableName, Key: marshall(holdingKey('busy', 'leaky')) }));
      // A record whose bit is cleared by hand: the value could be handed out again.
      await store.allocate({ pool: 'busy', owner: 'cleared', value: val(10001) });
      const chunk = 2048 / 8; // the manual range's first chunk: 10000 is a multiple of 8
      await client.send(
        new UpdateItemCommand({
          TableName: store.tableName,
          Key: marshall(chunkKey('busy', chunk)),
          UpdateExpression: 'SET bits = :b, used = :zero, ver = ver + :one',
          ExpressionAttributeValues: marshall({ ':b': new Uint8Array([0]), ':zero': 0, ':one': 1 }),
        }),
      );
      // A wrong count on another manual chunk.
      await store.allocate({ pool: 'busy', owner: 'counted', value: val(10010) });
      await client.send(
        new UpdateItemCommand({
          TableName: store.tableName,
          Key: marshall(chunkKey('busy', chunk + 1)),
          UpdateExpression: 'SET used = :u, ver = ver + :one',
          ExpressionAttributeValues: marshall({ ':u': 5, ':one': 1 }),
        }),
      );
      // A second record claiming a value already held, and a record outside the pool.
      await store.allocate({ pool: 'busy', owner: 'first', value: val(10020) });
      for (const [owner, value] of [['second', 10020n], ['outside', 99999n]] as const) {
        await client.send(
          new PutItemCommand({
            TableName: store.tableName,
            Item: marshall(encodeHolding({ pool: 'busy', type: 'integer', owner, value, size: 1, at: new Date().toISOString(), rid: `by-hand-${owner}` }), { removeUndefinedValues: true }),
          }),
        );
      }
      busy = load(store.tableName, 8);
    });
    afterAll(async () => {
      await busy.stop();
    });

    test.each([1, 2, 3, 4, 5])('check %i', { timeout: 60_000 }, async () => {
      const report = await checkAll(store, { pool: 'busy' });
      expect(report.ok).toBe(false);
      const problems = report.pools[0].problems;
      expect(problems).toEqual(
        expect.arrayContaining([
          '1000 is marked allocated but has no allocation record (leaked)',
          "owner 'cleared' holds 10001 but its bit is clear (the value could be handed out again)",
          `chunk ${2048 / 8 + 1} counts 5 used but has 1 bits set`,
          "10020 is held by 'first' and 'second'",
          "owner 'outside' holds 99999, which is not a value of the pool",
        ]),
      );
      expect(problems).toHaveLength(5);
    });
  });
});

describe('check is bounded and continues with a cursor', () => {
  test('a call stops after its pages and next_cursor continues; following it covers every pool once', async () => {
    const store = await freshStore();
    await register(store, `[pools.a]\ntype = "integer"\nranges = [{ start = 0, end = 4096 }]\n[pools.b]\ntype = "ipv4"\nprefix = "10.0.0.0/22"`);
    for (let i = 0; i < 20; i++) await store.allocate({ pool: i % 2 ? 'a' : 'b', owner: `o${i}` });
    const first = await store.check({ ...LAG, pagesPerCall: 1 });
    expect(first.next_cursor).not.toBeNull();
    const all = await checkAll(store, { pagesPerCall: 2 });
    expect(all.ok).toBe(true);
    expect(all.pools.map((p) => p.name)).toEqual(['a', 'b']);
    const whole = await store.check(LAG);
    expect(whole.next_cursor).toBeNull();
    expect(whole.pools.map((p) => [p.name, p.used, p.allocations])).toEqual([['a', 10, 10], ['b', 10, 10]]);
  });

  test('a cursor that was not handed out is INVALID_ARGUMENT; an unknown pool is POOL_NOT_FOUND', async () => {
    const store = await freshStore();
    await register(store, '[pools.a]\ntype = "integer"\nranges = [{ start = 0, end = 10 }]');
    for (const cursor of ['nope', Buffer.from('{"pool":"a","pass":"chunks","chunk":-1}').toString('base64url'), Buffer.from('[]').toString('base64url')]) {
      expect(isPoolError(await store.check({ cursor }).catch((e) => e), 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(isPoolError(await store.check({ pool: 'nope' }).catch((e) => e), 'POOL_NOT_FOUND')).toBe(true);
  });
});
