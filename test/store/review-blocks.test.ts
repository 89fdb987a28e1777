/**
 * Blocks at their edges, as a review found them: grown ranges, the largest free block named on
 * exhaustion, explicit blocks in small ranges, and a slow release overtaken by a newer allocation.
 */
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import { interceptedClient } from '../support/faults.js';
import { blockOf, freshStore, register, storeOn, val } from '../support/store.js';


describe('a range grown by a later file is one range for blocks', () => {
  test('[0, 200) grown to [0, 300): the aligned run [0, 256) lies inside one range, so a block of 256 is served (SPEC: 256 wherever such a run lies inside one range)', async () => {
    const store = await freshStore();
    await register(store, '[pools.g]\ntype = "integer"\nranges = [{ start = 0, end = 200 }]');
    await register(store, '[pools.g]\ntype = "integer"\nranges = [{ start = 0, end = 300 }]');
    const pool = await store.pool('g');
    // The pool shows one range, [0, 300).
    expect(pool.runs).toEqual([{ start: 0n, end: 300n, autoAssign: true }]);
    expect(pool.maxBlockSize).toBeGreaterThanOrEqual(256);
    const { allocation } = await store.allocate({ pool: 'g', owner: 'a', size: blockOf(256) });
    expect({ value: allocation.value, size: allocation.size }).toEqual({ value: 0n, size: 256 });
  });

  test('[0, 65536) grown to [0, 131072): blocks in either part, up to 64 of their chunks (1/16 of the first part); larger ones are INVALID_ARGUMENT naming the limit', async () => {
    const store = await freshStore();
    await register(store, '[pools.h]\ntype = "integer"\nranges = [{ start = 0, end = 65536 }]');
    await register(store, '[pools.h]\ntype = "integer"\nranges = [{ start = 0, end = 131072 }]');
    const pool = await store.pool('h');
    expect(pool.runs).toEqual([{ start: 0n, end: 131_072n, autoAssign: true }]);
    // Chunks are cut when a part is registered (64 values each here) and a block spans at most 64.
    expect(pool.maxBlockSize).toBe(4096);
    // One named in the grown part, and one chosen at random.
    expect((await store.allocate({ pool: 'h', owner: 'grown', value: val(65536), size: blockOf(4096) })).allocation.value).toBe(65_536n);
    expect((await store.allocate({ pool: 'h', owner: 'random', size: blockOf(4096) })).allocation.size).toBe(4096);
    const e = await store.allocate({ pool: 'h', owner: 'big', size: blockOf(8192) }).catch((x: unknown) => x);
    expect(isPoolError(e, 'INVALID_ARGUMENT')).toBe(true);
    expect((e as { details?: unknown }).details).toEqual({ max_block_size: 4096 });
  });
});

describe('exhaustion names the largest free block truly', () => {
  test('a /24 whose every 8-value chunk holds one allocated value: no /28 free, and the largest free block is a /30, not a /29', async () => {
    const store = await freshStore();
    // 254 values in 32 chunks of 8 bits; value .8i+4 taken in each chunk leaves .8i to .8i+3 free: /30s at most.
    await register(store, '[pools.t]\ntype = "ipv4"\nprefix = "10.9.0.0/24"');
    for (let i = 0; i < 32; i++) await store.allocate({ pool: 't', owner: `o${i}`, value: val(`10.9.0.${8 * i + 4}`) });
    const e = await store.allocate({ pool: 't', owner: 'block', size: blockOf(16) }).catch((x: unknown) => x);
    expect(isPoolError(e, 'RESOURCE_EXHAUSTED'), String(e)).toBe(true);
    expect((e as Error).message).toBe('no free /28 in t; the largest free block is a /30');
  });

});

describe('max_block_size says what the pool accepts', () => {
  test('an explicit block within max_block_size but larger than its own range serves is refused naming both limits', async () => {
    const store = await freshStore();
    // [0, 65536): 64-bit chunks, blocks up to 4,096. [131072, 132096): 8-bit chunks, blocks up to 512.
    await register(store, '[pools.m]\ntype = "integer"\nranges = [{ start = 0, end = 65536 }, { start = 131072, end = 132096 }]');
    const max = (await store.pool('m')).maxBlockSize;
    expect(max).toBe(4096);
    const got = await store.allocate({ pool: 'm', owner: 'a', value: val(131072), size: blockOf(1024) }).catch((x: unknown) => x);
    expect(isPoolError(got, 'INVALID_ARGUMENT')).toBe(true);
    expect((got as Error).message).toBe(
      "a block of 1,024 values at 131072 is larger than its range of pool 'm' hands out: blocks there are at most 512 values; the pool's max_block_size (4,096) is what its largest range serves",
    );
    expect((got as { details?: unknown }).details).toEqual({ max_block_size: 4096, max_block_size_here: 512 });
    expect((await store.allocate({ pool: 'm', owner: 'a', value: val(131072), size: blockOf(512) })).allocation.size).toBe(512);
  });
});

describe('a release that read an older holding never frees a newer one', () => {
  test('release by a value inside a block, overtaken by a release and a new allocation of the same block by the same owner: the new, acknowledged block stays held', async () => {
    const store = await freshStore();
    await register(store, '[pools.r]\ntype = "ipv4"\nranges = [{ start = "10.7.0.0", end = "10.7.4.0" }]');
    const first = await store.allocate({ pool: 'r', owner: 'rack-1', value: val('10.7.1.0'), size: blockOf(256) });
    let overtaken: Promise<unknown> | undefined;
    let acknowledged: { value: bigint; size: number } | undefined;
    // The slow release: its transaction is sent only after another call released the block and the
    // owner allocated it again (and was told so).
    const slow = storeOn(store.tableName, {
      client: interceptedClient(async (command, _input, send) => {
        if (command === 'TransactWriteItemsCommand' && !overtaken) {
          overtaken = (async () => {
            await store.release({ pool: 'r', owner: 'rack-1' });
            const again = await store.allocate({ pool: 'r', owner: 'rack-1', value: val('10.7.1.0'), size: blockOf(256) });
            expect(again.created).toBe(true);
            acknowledged = { value: again.allocation.value, size: again.allocation.size };
          })();
          await overtaken;
        }
        return send();
      }),
    });
    expect(first.created).toBe(true);
    // The slow release answers as if it released the first block…
    const answer = await slow.release({ pool: "r", owner: "rack-1", value: val("10.7.1.77") }).catch((e: unknown) => e);
    expect(isPoolError(answer, "NOT_ALLOCATED"), String(answer)).toBe(true);
    expect(acknowledged).toBeDefined();
    // …but the block the owner was told it holds after that release must still be held.
    const now = await store.findByOwner('r', 'rack-1').catch((e: unknown) => e);
    expect(now instanceof Error ? (now as { code?: string }).code : { value: (now as { value: bigint }).value, size: (now as { size: number }).size }).toEqual(acknowledged);
  });
});
