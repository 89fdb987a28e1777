/**
 * Registration all or nothing, whatever the file's size: a file that creates or grows 1,000 pools
 * (far more than one transaction's 100 items) goes through a registration intent, and readers see all
 * of it or none of it; a registration that stops half way, before or after committing, is finished by
 * the next one.
 */
import { type DynamoDBClient, ScanCommand, type TransactWriteItemsCommandInput, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import { registerFile } from '../../lib/registration.js';
import { PoolStore } from '../../lib/store/index.js';
import { freshStore, register, TEST_BUDGET_MS, testClient } from '../support/store.js';

const POOLS = 1000;

function file(pools: number, width: number, from = 0): string {
  return Array.from({ length: pools }, (_, i) => `[pools.p${String(i).padStart(4, '0')}]\ntype = "integer"\nranges = [{ start = ${from + i * 100_000}, end = ${from + i * 100_000 + width} }]`).join('\n');
}

/** Whether a transaction is the commit of a registration intent. */
function isCommit(input: TransactWriteItemsCommandInput): boolean {
  return (input.TransactItems ?? []).some((i) => i.Update?.ExpressionAttributeValues?.[':to']?.S === 'committed');
}

/** A client that dies (every request fails from then on) just before or just after a registration's commit. */
function dyingClient(when: 'before-commit' | 'after-commit'): DynamoDBClient {
  const client = testClient();
  let dead = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (dead) throw Object.assign(new Error('injected: the function is gone'), { name: 'InjectedCrash' });
      if (context.commandName === 'TransactWriteItemsCommand' && isCommit(args.input as TransactWriteItemsCommandInput)) {
        if (when === 'before-commit') {
          dead = true;
          throw Object.assign(new Error('injected: the function is gone'), { name: 'InjectedCrash' });
        }
        const out = await next(args);
        dead = true;
        throw Object.assign(new Error('injected: the function is gone'), { name: 'InjectedCrash' });
        return out;
      }
      return next(args);
    },
    { step: 'initialize', name: 'crash' },
  );
  return client;
}

describe('registration of files larger than one transaction', () => {
  test(`a file creating ${POOLS} pools is applied whole, and one growing them all`, { timeout: 120_000 }, async () => {
    const store = await freshStore();
    let t = performance.now();
    const created = await register(store, file(POOLS, 10));
    const createMs = performance.now() - t;
    expect(created.result.pools).toHaveLength(POOLS);
    expect(created.result.pools.every((p) => p.action === 'created' && p.size === 10)).toBe(true);
    t = performance.now();
    const grown = await register(store, file(POOLS, 20));
    const growMs = performance.now() - t;
    expect(grown.result.pools.every((p) => p.action === 'grown' && p.added === 10 && p.size === 20)).toBe(true);
    process.stdout.write(`registration of ${POOLS} pools: created in ${createMs.toFixed(0)} ms, grown in ${growMs.toFixed(0)} ms\n`);

    const pools = await store.pools();
    expect(pools).toHaveLength(POOLS);
    expect(pools.every((p) => p.size === 20 && p.used === 0)).toBe(true);
    // Every value of a grown pool is allocatable, the new ones included.
    const values = new Set<bigint>();
    for (let i = 0; i < 20; i++) values.add((await store.allocate({ pool: 'p0999', owner: `o${i}` })).allocation.value);
    expect(values.size).toBe(20);
    expect((await store.syncs(2)).map((s) => s.status)).toEqual(['applied', 'applied']);
    expect((await store.check({ pool: 'p0999' })).ok).toBe(true);
  });

  test('a registration that stops before committing changes nothing readers see, and the next one undoes it after a minute', { timeout: 120_000 }, async () => {
    const store = await freshStore();
    await register(store, file(2, 10));
    const dying = new PoolStore({ client: dyingClient('before-commit'), tableName: store.tableName, budgetMs: TEST_BUDGET_MS });
    const failed = await registerFile(dying, file(300, 20), { source: 'http', maxPoolSize: 250_000 }).catch((e: unknown) => e);
    expect((failed as Error).name, (failed as Error).message).toBe('InjectedCrash');

    // Staged, not committed: the grown pools are as they were, the created ones do not exist.
    expect((await store.pools()).map((p) => [p.name, p.size])).toEqual([['p0000', 10], ['p0001', 10]]);
    expect(isPoolError(await store.pool('p0002').catch((e) => e), 'POOL_NOT_FOUND')).toBe(true);
    // Within a minute another registration waits for it rather than plan against a state about to change.
    expect(isPoolError(await register(store, file(1, 30)).catch((e) => e), 'UNAVAILABLE')).toBe(true);

    const later = new PoolStore({ client: testClient(), tableName: store.tableName, budgetMs: TEST_BUDGET_MS, now: () => new Date(Date.now() + 61_000) });
    const applied = await register(later, file(300, 30));
    expect(applied.result.pools.filter((p) => p.action === 'created')).toHaveLength(298);
    expect((await store.pools()).every((p) => p.size === 30)).toBe(true);
    expect(await store.pools()).toHaveLength(300);
  });

  test('a registration that stops right after committing is visible whole at once, and settled by the next one', { timeout: 120_000 }, async () => {
    const store = await freshStore();
    await register(store, file(2, 10));
    const dying = new PoolStore({ client: dyingClient('after-commit'), tableName: store.tableName, budgetMs: TEST_BUDGET_MS });
    const failed = await registerFile(dying, file(300, 20), { source: 'http', maxPoolSize: 250_000 }).catch((e: unknown) => e);
    expect((failed as Error).name, (failed as Error).message).toBe('InjectedCrash');

    const seen = await store.pools();
    expect(seen).toHaveLength(300);
    expect(seen.every((p) => p.size === 20)).toBe(true);
    expect((await store.allocate({ pool: 'p0001', owner: 'a' })).allocation.value).toBeGreaterThanOrEqual(100_000n);

    const next = await register(store, file(300, 25));
    expect(next.result.pools.every((p) => p.action === 'grown' && p.size === 25)).toBe(true);
    expect((await store.pools()).every((p) => p.size === 25)).toBe(true);
  });

  test('an aborted registration that stopped before undoing itself leaves nothing in the way of the next one', { timeout: 120_000 }, async () => {
    const store = await freshStore();
    // A pool of 32 ranges fills its first layout page: growing it writes a second page.
    const ranges = (n: number) => Array.from({ length: n }, (_, i) => `{ start = ${i * 100}, end = ${i * 100 + 10} }`).join(', ');
    const wide = (n: number) => `[pools.wide]\ntype = "integer"\nranges = [${ranges(n)}]\n`;
    await register(store, wide(32));
    const dying = new PoolStore({ client: dyingClient('before-commit'), tableName: store.tableName, budgetMs: TEST_BUDGET_MS });
    const failed = await registerFile(dying, `${wide(33)}${file(60, 10, 1_000_000)}`, { source: 'http', maxPoolSize: 250_000 }).catch((e: unknown) => e);
    expect((failed as Error).name, (failed as Error).message).toBe('InjectedCrash');
    // Someone marks the stopped registration aborted, and stops before removing what it staged.
    await testClient().send(
      new ScanCommand({ TableName: store.tableName, FilterExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'REGISTRATION' } } }),
    ).then(async (out) => {
      for (const item of out.Items ?? []) {
        await testClient().send(
          new UpdateItemCommand({
            TableName: store.tableName,
            Key: { pk: item.pk, sk: item.sk },
            UpdateExpression: 'SET #s = :a',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':a': { S: 'aborted' } },
          }),
        );
      }
    });
    expect((await store.pool('wide')).size).toBe(320);
    const grown = await register(store, `${wide(34)}${file(60, 10, 1_000_000)}`);
    expect(grown.result.pools.find((p) => p.name === 'wide')).toMatchObject({ action: 'grown', added: 20, size: 340 });
    expect((await store.pools()).length).toBe(61);
    const values = new Set<bigint>();
    for (let i = 0; i < 340; i++) values.add((await store.allocate({ pool: 'wide', owner: `o${i}` })).allocation.value);
    expect(values.size).toBe(340);
  });
});

