/**
 * Every operation answers within its budget, whatever DynamoDB does: a DynamoDB that stalls (a real
 * proxy that holds requests and never answers) or keeps throttling gives UNAVAILABLE with Retry-After,
 * in time; and a write whose answer is lost at the end of the budget is found out before answering.
 */
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { createApp } from '../../functions/http/app.js';
import { isPoolError } from '../../lib/errors.js';
import { PoolStore } from '../../lib/store/index.js';
import { FINAL_CHECK_MS } from '../../lib/store/pacing.js';
import { localDynamoClient } from '../../local/dynamodb-local.js';
import { type StallingProxy, stallingProxy } from '../support/stalling-proxy.js';
import { freshStore, register, testClient } from '../support/store.js';

const BUDGET_MS = 1500;
/** Far more than the store may take (budget, final check, pauses): the call must have ended on its own. */
const BOUND_MS = 3 * (BUDGET_MS + FINAL_CHECK_MS);

let proxy: StallingProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

async function setup() {
  const store = await freshStore();
  await register(store, '[pools.p]\ntype = "integer"\nranges = [{ start = 0, end = 64 }]');
  proxy = await stallingProxy(inject('ddbEndpoint'));
  const through = new PoolStore({ client: localDynamoClient(proxy.endpoint), tableName: store.tableName, budgetMs: BUDGET_MS });
  return { store, through, proxy };
}

async function timed<T>(p: Promise<T>): Promise<{ ms: number; outcome: T | unknown }> {
  const started = performance.now();
  const outcome = await p.catch((e: unknown) => e);
  return { ms: performance.now() - started, outcome };
}

describe('a stalled or throttling DynamoDB', () => {
  test('every read stalls: UNAVAILABLE with Retry-After, within the budget', async () => {
    const { through, proxy } = await setup();
    for (const op of ['GetItem', 'BatchGetItem', 'Query']) proxy.rules.set(op, 'drop');
    const { ms, outcome } = await timed(through.allocate({ pool: 'p', owner: 'a' }));
    expect(isPoolError(outcome, 'UNAVAILABLE')).toBe(true);
    expect((outcome as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThan(0);
    expect(ms).toBeLessThan(BOUND_MS);

    // Through the HTTP application: 503 with Retry-After, the contract's JSON, never a bare 5xx.
    const app = createApp({ store: through, maxPoolSize: 1000, logger: { error: () => {}, warn: () => {} } });
    const res = await app.request('/v1/pools/p/allocations', { method: 'POST', body: JSON.stringify({ owner: 'b' }) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
  });

  test('the transaction stalls before landing: UNAVAILABLE in time, and nothing was allocated', async () => {
    const { store, through, proxy } = await setup();
    proxy.rules.set('TransactWriteItems', 'drop');
    const { ms, outcome } = await timed(through.allocate({ pool: 'p', owner: 'a' }));
    expect(isPoolError(outcome, 'UNAVAILABLE')).toBe(true);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(proxy.held.get('TransactWriteItems')).toBeGreaterThan(0);
    expect(await store.pool('p')).toMatchObject({ used: 0 });
    expect(isPoolError(await store.findByOwner('p', 'a').catch((e) => e), 'NOT_ALLOCATED')).toBe(true);
  });

  test('the transaction lands and its answer is lost: found out, and answered as allocated', async () => {
    const { store, through, proxy } = await setup();
    proxy.rules.set('TransactWriteItems', 'land-then-drop');
    const { ms, outcome } = await timed(through.allocate({ pool: 'p', owner: 'a' }));
    expect(ms).toBeLessThan(BOUND_MS);
    expect(outcome).toMatchObject({ created: true, allocation: { owner: 'a' } });
    expect((await store.findByOwner('p', 'a')).value).toBe((outcome as { allocation: { value: bigint } }).allocation.value);
    expect(await store.pool('p')).toMatchObject({ used: 1 });
    expect((await store.check({ indexLagMs: 10 })).ok).toBe(true);
  });

  test('throttling without end: UNAVAILABLE with Retry-After, within the budget, nothing changed', async () => {
    const store = await freshStore();
    await register(store, '[pools.p]\ntype = "integer"\nranges = [{ start = 0, end = 64 }]');
    const client = testClient();
    client.middlewareStack.add(
      () => async () => {
        throw new ProvisionedThroughputExceededException({ message: 'injected throttle', $metadata: {} });
      },
      { step: 'initialize', name: 'throttleEverything' },
    );
    const throttled = new PoolStore({ client, tableName: store.tableName, budgetMs: BUDGET_MS, retry: { maxAttempts: 1000 } });
    for (const call of [(): Promise<unknown> => throttled.allocate({ pool: 'p', owner: 'a' }), () => throttled.release({ pool: 'p', owner: 'a' }), () => throttled.pools()]) {
      const { ms, outcome } = await timed(call());
      expect(isPoolError(outcome, 'UNAVAILABLE')).toBe(true);
      expect((outcome as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThan(0);
      expect(ms).toBeLessThan(BOUND_MS);
    }
    expect(await store.pool('p')).toMatchObject({ used: 0 });
  });
});
