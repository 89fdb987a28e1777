/**
 * Blocks on DynamoDB Local: many clients taking /24s from a /16 (every block once, none
 * overlapping), no partial block whatever the faults, blocks and single values mixed by concurrent
 * clients against a model, and check seeing a block's bits exactly.
 */
import { DeleteItemCommand, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { fc } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { Allocation, CheckReport } from '../../lib/model.js';
import { PoolStore } from '../../lib/store/index.js';
import { chunkKey, holdingKey } from '../../lib/store/keys.js';
import { parseConfigValue } from '../../lib/values.js';
import { interceptedClient, lostAnswer, throttling } from '../support/faults.js';
import { blockOf, freshStore, register, storeOn, TEST_BUDGET_MS, testClient, val } from '../support/store.js';

const LAG = { indexLagMs: 50 };


async function checkAll(store: PoolStore, pool: string): Promise<CheckReport['pools'][number]> {
  let cursor: string | undefined;
  const pools: CheckReport['pools'] = [];
  do {
    const page = await store.check({ ...LAG, pool, cursor });
    pools.push(...page.pools);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  const merged = pools.filter((p) => p.name === pool);
  return { ...merged[0], ok: merged.every((p) => p.ok), problems: merged.flatMap((p) => p.problems) };
}

async function allAllocations(store: PoolStore, pool: string): Promise<Allocation[]> {
  const out: Allocation[] = [];
  let after: string | undefined;
  do {
    const page = await store.allocations(pool, { limit: 1000, after });
    out.push(...page.allocations);
    after = page.next ?? undefined;
  } while (after);
  return out;
}

/** Pairs of allocations whose values meet. */
function overlapping(allocations: readonly Allocation[]): [Allocation, Allocation][] {
  const sorted = [...allocations].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const pairs: [Allocation, Allocation][] = [];
  for (let i = 1; i < sorted.length; i++) if (sorted[i - 1].value + BigInt(sorted[i - 1].size) > sorted[i].value) pairs.push([sorted[i - 1], sorted[i]]);
  return pairs;
}

describe('blocks under concurrency', () => {
  test('32 clients take /24s from a /16 range: 256 distinct aligned blocks, then RESOURCE_EXHAUSTED naming no free block', { timeout: 240_000 }, async () => {
    const store = await freshStore();
    await register(store, '[pools.tenant]\ntype = "ipv4"\nranges = [{ start = "10.0.0.0", end = "10.1.0.0" }]');
    const clients = Array.from({ length: 32 }, () => storeOn(store.tableName));
    const got = await Promise.all(
      clients.map(async (client, c) => {
        const mine: Allocation[] = [];
        for (let k = 0; k < 8; k++) mine.push((await client.allocate({ pool: 'tenant', owner: `vpc-${c}-${k}`, size: blockOf(256) })).allocation);
        return mine;
      }),
    );
    const blocks = got.flat();
    expect(new Set(blocks.map((b) => b.value)).size).toBe(256);
    expect(blocks.every((b) => b.size === 256 && b.value % 256n === 0n)).toBe(true);
    expect(overlapping(blocks)).toEqual([]);
    const late = await store.allocate({ pool: 'tenant', owner: 'late', size: blockOf(256) }).catch((e: unknown) => e);
    expect(isPoolError(late, 'RESOURCE_EXHAUSTED')).toBe(true);
    expect((late as Error).message).toBe('no free /24 in tenant; no auto-assignable value is free');
    expect((await store.pool('tenant')).used).toBe(65_536);
    expect(await checkAll(store, 'tenant')).toMatchObject({ ok: true, used: 65_536, problems: [] });
  });

  test('no partial block: with lost answers and throttling on every kind of request, each owner holds its whole block or nothing', { timeout: 240_000 }, async () => {
    const store = await freshStore();
    // 2,048 values in 8-bit chunks: a /26 block spans 8 chunks, written in one transaction.
    await register(store, '[pools.racks]\ntype = "ipv4"\nranges = [{ start = "10.8.0.0", end = "10.8.8.0" }]');
    let faults = 0;
    const faulty = () =>
      new PoolStore({
        tableName: store.tableName,
        budgetMs: TEST_BUDGET_MS,
        client: interceptedClient(async (_command, _input, send) => {
          const r = Math.random();
          if (r < 0.15) {
            faults++;
            throw throttling();
          }
          if (r < 0.3) {
            faults++;
            await send();
            throw lostAnswer();
          }
          return send();
        }),
      });
    const answers = await Promise.all(
      Array.from({ length: 8 }, async (_, c) => {
        const client = faulty();
        const out: { owner: string; result: Allocation | string }[] = [];
        for (let k = 0; k < 3; k++) {
          const owner = `rack-${c}-${k}`;
          // Some ask for a named block, which another client also names (and a random one may take).
          const value = k === 2 ? val(`10.8.${4 + (c % 4)}.0`) : undefined;
          try {
            out.push({ owner, result: (await client.allocate({ pool: 'racks', owner, value, size: blockOf(64) })).allocation });
          } catch (e) {
            out.push({ owner, result: isPoolError(e) ? e.code : String(e) });
          }
        }
        return out;
      }),
    );
    expect(faults).toBeGreaterThan(0);
    const flat = answers.flat();
    // Only what faults or other owners explain.
    expect(flat.filter((a) => typeof a.result === 'string' && !['UNAVAILABLE', 'VALUE_IN_USE', 'RESOURCE_EXHAUSTED'].includes(a.result))).toEqual([]);
    const held = await allAllocations(store, 'racks');
    // 32 blocks fit: the faults leave some owners unanswered, not the pool empty.
    expect(held.length).toBeGreaterThan(4);
    expect(overlapping(held)).toEqual([]);
    expect(held.every((a) => a.size === 64 && a.value % 64n === 0n)).toBe(true);
    // Every acknowledged block is held as acknowledged; the rest hold a whole block or nothing.
    const byOwner = new Map(held.map((a) => [a.owner, a]));
    for (const a of flat) if (typeof a.result !== 'string') expect(byOwner.get(a.owner), a.owner).toEqual(a.result);
    for (const a of flat) if (typeof a.result === 'string' && a.result !== 'UNAVAILABLE') expect(byOwner.has(a.owner), a.owner).toBe(false);
    const report = await checkAll(store, 'racks');
    expect(report.problems).toEqual([]);
    expect(report.used).toBe(held.length * 64);
  });
});

// ---------------------------------------------------------------- a model of blocks and values

const POOL_VALUES = 64;
const OWNERS = 3;

const programArb = fc.array(
  fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('allocate' as const), owner: fc.nat(OWNERS - 1), order: fc.nat(4) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('allocateAt' as const), owner: fc.nat(OWNERS - 1), order: fc.nat(3), slot: fc.nat(POOL_VALUES - 1) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), owner: fc.nat(OWNERS - 1) }) },
    ),
    { minLength: 6, maxLength: 16 },
  ),
  { minLength: 2, maxLength: 4 },
);

describe('blocks and single values mixed by concurrent clients, against a model', () => {
  let run = 0;
  test('each owner holds what its own answers say, no two holdings overlap, and check agrees', { timeout: 600_000 }, async () => {
    const store = await freshStore();
    await fc.assert(
      fc.asyncProperty(programArb, async (clients) => {
        const pool = `mix${run++}`;
        const base = 100_000 * run;
        await register(store, `[pools.${pool}]\ntype = "integer"\nranges = [{ start = ${base}, end = ${base + POOL_VALUES} }]`);
        const finals = await Promise.all(
          clients.map(async (ops, c) => {
            const client = storeOn(store.tableName);
            // What each of this client's owners holds, as its answers say: the model.
            const model = new Map<string, { value: bigint; size: number } | undefined>();
            for (const op of ops) {
              const owner = `c${c}-o${op.owner}`;
              const size = 2 ** (op.kind === 'release' ? 0 : op.order);
              try {
                if (op.kind === 'release') {
                  const gone = await client.release({ pool, owner });
                  expect(gone.value, owner).toBe(model.get(owner)?.value);
                  model.set(owner, undefined);
                } else {
                  const at = op.kind === 'allocateAt' ? BigInt(base + op.slot - (op.slot % size)) : undefined;
                  const { allocation, created } = await client.allocate({
                    pool,
                    owner,
                    size: blockOf(size),
                    value: at === undefined ? undefined : (s) => parseConfigValue(s, Number(at)),
                  });
                  const before = model.get(owner);
                  // A retry answers what is held; a new one is aligned, in the pool and of the size asked.
                  if (!created) expect({ value: allocation.value, size: allocation.size }, owner).toEqual(before);
                  else expect(before, owner).toBeUndefined();
                  expect(allocation.size).toBe(size);
                  expect(allocation.value % BigInt(size)).toBe(0n);
                  if (at !== undefined) expect(allocation.value).toBe(at);
                  model.set(owner, { value: allocation.value, size });
                }
              } catch (e) {
                if (!isPoolError(e)) throw e;
                const held = model.get(owner);
                // What depends on other owners, or on what this owner already holds.
                if (e.code === 'NOT_ALLOCATED') expect(held, `${owner} ${e.message}`).toBeUndefined();
                else if (held) expect(e.code, `${owner} holds something: ${e.message}`).toBe('OWNER_CONFLICT');
                else expect(['VALUE_IN_USE', 'RESOURCE_EXHAUSTED'], `${owner} ${e.message}`).toContain(e.code);
              }
            }
            return model;
          }),
        );
        expect(clients.flat().length).toBeGreaterThan(0);
        const expected = finals.flatMap((m) => [...m].filter((e): e is [string, { value: bigint; size: number }] => e[1] !== undefined));
        const held = await allAllocations(store, pool);
        expect(held.map((a) => [a.owner, { value: a.value, size: a.size }]).sort()).toEqual(expected.sort());
        expect(overlapping(held)).toEqual([]);
        const report = await checkAll(store, pool);
        expect(report.problems).toEqual([]);
        expect(report.used).toBe(held.reduce((n, a) => n + a.size, 0));
      }),
      { numRuns: 12 },
    );
  });
});

// ---------------------------------------------------------------- check

describe('check sees a block bit by bit', () => {
  test('a cleared bit inside a block and a set bit next to it are both reported', async () => {
    const store = await freshStore();
    // 1,024 values in 8-bit chunks: the block [64, 96) covers chunks 8 to 11. Not auto_assign, so
    // that the room index has nothing to say about the bits changed by hand.
    await register(store, '[pools.v]\ntype = "integer"\nranges = [{ start = 0, end = 1024, auto_assign = false }]');
    await store.allocate({ pool: 'v', owner: 'fabric', value: val(64), size: blockOf(32) });
    expect(await checkAll(store, 'v')).toMatchObject({ ok: true, used: 32 });

    const client = testClient();
    const bits = async (chunk: number) =>
      unmarshall((await client.send(new GetItemCommand({ TableName: store.tableName, Key: marshall(chunkKey('v', chunk)) }))).Item ?? {}).bits as Uint8Array;
    expect([...(await bits(10))]).toEqual([0xff]);
    // Value 83 (bit 3 of chunk 10) cleared by hand.
    await client.send(
      new UpdateItemCommand({
        TableName: store.tableName,
        Key: marshall(chunkKey('v', 10)),
        UpdateExpression: 'SET bits = :b, used = :u, ver = ver + :one',
        ExpressionAttributeValues: marshall({ ':b': new Uint8Array([0xff & ~(1 << 3)]), ':u': 7, ':one': 1 }),
      }),
    );
    // Value 96, right after the block, set with no record: its record deleted by hand.
    await store.allocate({ pool: 'v', owner: 'gone', value: val(96) });
    await client.send(new DeleteItemCommand({ TableName: store.tableName, Key: marshall(holdingKey('v', 'gone')) }));
    const report = await checkAll(store, 'v');
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(
      expect.arrayContaining(["owner 'fabric' holds 83 but its bit is clear (the value could be handed out again)", '96 is marked allocated but has no allocation record (leaked)']),
    );
    expect(report.problems).toHaveLength(2);
  });
});
