/**
 * Registration and check under faults DynamoDB Local cannot produce itself: settling transactions
 * throttled, commits whose answers are lost, single writes throttled, another registration staging at
 * the same time, a cold container whose early reads straddle a grow, a DynamoDB that answers slowly.
 * Each case once let a registration be lost after its answer, or answered a raw SDK error (a 500).
 */
import { GetItemCommand, PutItemCommand, ScanCommand, DeleteItemCommand, type TransactWriteItemsCommandInput } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, test } from 'vitest';
import { isPoolError, type PoolError } from '../../lib/errors.js';
import { registerFile } from '../../lib/registration.js';
import { PoolStore } from '../../lib/store/index.js';
import { interceptedClient, latch, lostAnswer, poolsFile, throttling } from '../support/faults.js';
import { freshStore, register, storeOn, TEST_BUDGET_MS, testClient, val } from '../support/store.js';

const HTTP = { source: 'http', maxPoolSize: 250_000 } as const;

function transactItems(input: Record<string, unknown>) {
  return (input as unknown as TransactWriteItemsCommandInput).TransactItems ?? [];
}

/** A store whose first transaction with an update expression containing `marker` is throttled. */
function settleThrottledOnce(tableName: string, marker: string): PoolStore {
  let done = false;
  const client = interceptedClient(async (command, input, send) => {
    if (!done && command === 'TransactWriteItemsCommand' && transactItems(input).some((i) => i.Update?.UpdateExpression?.includes(marker))) {
      done = true;
      throw throttling();
    }
    return send();
  });
  return new PoolStore({ client, tableName, budgetMs: TEST_BUDGET_MS });
}

async function scan(tableName: string): Promise<Record<string, unknown>[]> {
  const out = await testClient().send(new ScanCommand({ TableName: tableName }));
  return (out.Items ?? []).map((i) => unmarshall(i));
}

/** What DynamoDB's TTL does within days of a settled intent's expiry. */
async function expireIntents(tableName: string): Promise<number> {
  const intents = (await scan(tableName)).filter((i) => i.pk === 'REGISTRATION');
  for (const i of intents) await testClient().send(new DeleteItemCommand({ TableName: tableName, Key: marshall({ pk: i.pk, sk: i.sk }) }));
  return intents.length;
}

async function failure(promise: Promise<unknown>): Promise<PoolError> {
  const outcome = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPoolError(outcome)) throw new Error(`expected a PoolError, got ${outcome === undefined ? 'success' : String(outcome)}`);
  return outcome;
}

describe('a settling transaction throttled once', () => {
  test('created pools: no pool stays marked pending, and they survive the intent expiring', { timeout: 120_000 }, async () => {
    const base = await freshStore();
    const result = await registerFile(settleThrottledOnce(base.tableName, 'REMOVE pending'), poolsFile(60, 10), HTTP);
    expect(result.result.applied).toBe(true);

    const items = await scan(base.tableName);
    expect(items.filter((i) => i.sk === 'META' && i.pending)).toEqual([]);
    expect(items.filter((i) => i.pk === 'REGISTRATION').map((i) => i.status)).toEqual(['settled']);

    expect(await expireIntents(base.tableName)).toBe(1);
    const fresh = storeOn(base.tableName);
    expect(await fresh.pools()).toHaveLength(60);
    expect((await fresh.allocate({ pool: 'p0001', owner: 'x' })).created).toBe(true);
    expect((await register(fresh, poolsFile(60, 10))).result.pools.every((p) => p.action === 'unchanged')).toBe(true);
  });

  test('grown pools: the grow stays after the intent expires, and the pools grow again', { timeout: 120_000 }, async () => {
    const base = await freshStore();
    await register(base, poolsFile(60, 10));
    const result = await registerFile(settleThrottledOnce(base.tableName, 'REMOVE staged'), poolsFile(60, 20), HTTP);
    expect(result.result.pools[0]).toMatchObject({ name: 'p0000', action: 'grown', added: 10, size: 20 });
    const held = await base.allocate({ pool: 'p0001', owner: 'x', value: val(100_015) });
    expect(held.allocation.value).toBe(100_015n);

    expect((await scan(base.tableName)).filter((i) => i.sk === 'META' && i.staged)).toEqual([]);
    await expireIntents(base.tableName);
    const fresh = storeOn(base.tableName);
    expect((await fresh.pool('p0001')).size).toBe(20);
    expect((await fresh.findByOwner('p0001', 'x')).value).toBe(100_015n);

    await registerFile(fresh, poolsFile(60, 30), HTTP);
    expect((await storeOn(base.tableName).pool('p0001')).size).toBe(30);
    expect((await fresh.release({ pool: 'p0001', owner: 'x' })).value).toBe(100_015n);
  });
});

describe('a commit that lands and whose every answer is lost', () => {
  for (const [label, pools] of [['in one transaction', 3], ['through an intent', 60]] as const) {
    test(`${label}: answered applied (the sync record says it landed), and all of it is there`, { timeout: 120_000 }, async () => {
      const base = await freshStore();
      let landed = false;
      const client = interceptedClient(async (command, input, send) => {
        if (command === 'TransactWriteItemsCommand' && transactItems(input).some((i) => i.Put?.Item?.pk?.S === 'REGISTRY')) {
          if (!landed) {
            landed = true;
            await send();
          }
          throw lostAnswer();
        }
        return send();
      });
      const store = new PoolStore({ client, tableName: base.tableName, budgetMs: TEST_BUDGET_MS });
      const result = await registerFile(store, poolsFile(pools, 10), HTTP);
      expect(landed).toBe(true);
      expect(result.result.applied).toBe(true);
      expect(await storeOn(base.tableName).pools()).toHaveLength(pools);
      expect((await base.syncs(5)).map((s) => s.status)).toEqual(['applied']);
    });
  }
});

describe('single writes of a registration throttled once', () => {
  function putThrottledOnce(tableName: string, pkPrefix: string): PoolStore {
    let done = false;
    const client = interceptedClient(async (command, input, send) => {
      const pk = (input.Item as Record<string, { S?: string }> | undefined)?.pk?.S ?? '';
      if (!done && command === 'PutItemCommand' && pk.startsWith(pkPrefix)) {
        done = true;
        throw throttling();
      }
      return send();
    });
    return new PoolStore({ client, tableName, budgetMs: TEST_BUDGET_MS });
  }

  test('the intent of a large file: retried, the file applied', { timeout: 120_000 }, async () => {
    const base = await freshStore();
    const result = await registerFile(putThrottledOnce(base.tableName, 'REGISTRATION'), poolsFile(60, 10), HTTP);
    expect(result.result.applied).toBe(true);
    expect(await base.pools()).toHaveLength(60);
  });

  test('the sync record of a rejected file: retried, the file rejected with its own error', async () => {
    const base = await freshStore();
    const error = await failure(registerFile(putThrottledOnce(base.tableName, 'SYNC#'), '[pools.x]\ntype = "bogus"', HTTP));
    expect(error.code).toBe('INVALID_CONFIG');
    expect((await base.syncs(1))[0]).toMatchObject({ status: 'rejected' });
  });
});

test('a registration that reads while another is staging is told to retry; the staging one commits', { timeout: 120_000 }, async () => {
  const base = await freshStore();
  await register(base, poolsFile(60, 10));
  const atCommit = latch();
  const otherAnswered = latch();
  const stagingClient = interceptedClient(async (command, input, send) => {
    if (command === 'TransactWriteItemsCommand' && transactItems(input).some((i) => i.Update?.ExpressionAttributeValues?.[':to']?.S === 'committed')) {
      atCommit.open();
      await otherAnswered.opened;
    }
    return send();
  });
  const staging = registerFile(new PoolStore({ client: stagingClient, tableName: base.tableName, budgetMs: TEST_BUDGET_MS }), poolsFile(60, 20), HTTP);
  await atCommit.opened;

  const other = '[pools.zzz]\ntype = "integer"\nranges = [{ start = 90000000, end = 90000010 }]';
  const busy = await failure(registerFile(storeOn(base.tableName), other, { ...HTTP, maxAttempts: 1 }));
  otherAnswered.open();
  expect(busy.code).toBe('UNAVAILABLE');
  expect(busy.retryAfterSeconds).toBeGreaterThan(0);

  expect((await staging).result.applied).toBe(true);
  expect((await base.pools()).filter((p) => p.size === 20)).toHaveLength(60);
  expect((await registerFile(storeOn(base.tableName), `${poolsFile(60, 20)}\n${other}`, HTTP)).result.pools.find((p) => p.name === 'zzz')).toMatchObject({ action: 'created' });
});

test('a cold container whose first reads straddle a grow, over what an aborted grow left, hands out only committed values', { timeout: 60_000 }, async () => {
  const base = await freshStore();
  const table = base.tableName;
  await register(base, '[pools.p]\ntype = "integer"\nranges = [{ start = 0, end = 100 }]');
  // What an aborted grow that stopped before undoing its pages leaves: layout page 0 holds a second,
  // uncommitted segment [1000, 1100) past the definition's one committed segment.
  const page = unmarshall((await testClient().send(new GetItemCommand({ TableName: table, Key: marshall({ pk: 'POOL#p', sk: 'LAYOUT#00' }) }))).Item!);
  const [committed] = page.segs as string[];
  const firstChunk = Number(committed.split(',')[3]) + 13; // [0, 100) spans 13 chunks of 8 values
  page.segs = [committed, `3e8,44c,1,${firstChunk},8,1`];
  page.ver = (page.ver as number) + 1;
  await testClient().send(new PutItemCommand({ TableName: table, Item: marshall(page) }));

  const definitionRead = latch();
  const slowDefinition = interceptedClient(async (command, input, send) => {
    if (command === 'GetItemCommand' && (input.Key as Record<string, { S?: string }>).sk?.S === 'META') await definitionRead.opened;
    return send();
  });
  const cold = new PoolStore({ client: slowDefinition, tableName: table, budgetMs: TEST_BUDGET_MS });
  const pending = failure(cold.allocate({ pool: 'p', owner: 'cold', value: val(1050) }));
  await new Promise((resolve) => setTimeout(resolve, 500));
  await register(base, '[pools.p]\ntype = "integer"\nranges = [{ start = 0, end = 100 }, { start = 5000, end = 5100 }]');
  definitionRead.open();

  expect((await pending).code).toBe('VALUE_NOT_IN_POOL');
  expect((await failure(storeOn(table).findByValue('p', val(5050)))).code).toBe('NOT_ALLOCATED');
  expect((await storeOn(table).allocate({ pool: 'p', owner: 'warm', value: val(5050) })).allocation.value).toBe(5050n);
  expect((await storeOn(table).check({ pool: 'p' })).pools[0]).toMatchObject({ ok: true, problems: [] });
});

test('a check while the pool is grown and the new values allocated reports no problem', { timeout: 60_000 }, async () => {
  const base = await freshStore();
  await register(base, '[pools.p]\ntype = "integer"\nranges = [{ start = 0, end = 100 }]');
  for (let i = 0; i < 5; i++) await base.allocate({ pool: 'p', owner: `o${i}` });
  const held = latch();
  const paused = latch();
  let pausing = true;
  const client = interceptedClient(async (command, input, send) => {
    const pk = (input.ExpressionAttributeValues as Record<string, { S?: string }> | undefined)?.[':pk']?.S ?? '';
    if (pausing && command === 'QueryCommand' && pk.startsWith('HOLD#')) {
      pausing = false;
      paused.open();
      await held.opened;
    }
    return send();
  });
  const report = new PoolStore({ client, tableName: base.tableName, budgetMs: TEST_BUDGET_MS }).check({ pool: 'p' });
  await paused.opened;
  await register(base, '[pools.p]\ntype = "integer"\nranges = [{ start = 0, end = 100 }, { start = 1000, end = 1100 }]');
  await base.allocate({ pool: 'p', owner: 'new-owner', value: val(1050) });
  held.open();

  expect((await report).pools[0]).toMatchObject({ ok: true, problems: [] });
  expect((await base.check({ pool: 'p' })).pools[0]).toMatchObject({ ok: true, size: 200, used: 6, allocations: 6, problems: [] });
});

test('an allocation whose write landed, answer lost, then every read failing: UNAVAILABLE that says it may have landed; the retry answers it', { timeout: 60_000 }, async () => {
  const base = await freshStore();
  await register(base, '[pools.p]\ntype = "integer"\nranges = [{ start = 0, end = 100 }]');
  let outage = false;
  const client = interceptedClient(async (command, _input, send) => {
    if (outage) throw lostAnswer();
    if (command === 'TransactWriteItemsCommand') {
      await send();
      outage = true;
      throw lostAnswer();
    }
    return send();
  });
  const error = await failure(new PoolStore({ client, tableName: base.tableName, budgetMs: 4000 }).allocate({ pool: 'p', owner: 'o1' }));
  outage = false;
  expect(error.code).toBe('UNAVAILABLE');
  expect(error.message).toContain('may or may not have landed');
  expect(error.message).not.toContain('nothing was changed');

  const held = await base.findByOwner('p', 'o1');
  const again = await base.allocate({ pool: 'p', owner: 'o1' });
  expect(again).toMatchObject({ created: false, allocation: { value: held.value } });
});

test('a registration on a DynamoDB that answers every request in 1.8 s ends within its budget as a typed error, and leaves nothing half applied', { timeout: 120_000 }, async () => {
  const base = await freshStore();
  await register(base, '[pools.a]\ntype = "integer"\nranges = [{ start = 0, end = 10 }]');
  const slow = interceptedClient(async (_command, _input, send) => {
    await new Promise((resolve) => setTimeout(resolve, 1800));
    return send();
  });
  const file = '[pools.a]\ntype = "integer"\nranges = [{ start = 0, end = 10 }]\n[pools.b]\ntype = "integer"\nranges = [{ start = 100, end = 110 }]';
  const outcome = await registerFile(new PoolStore({ client: slow, tableName: base.tableName }), file, HTTP).then(
    () => 'applied',
    (e: unknown) => {
      if (!isPoolError(e) || e.code !== 'UNAVAILABLE') throw e;
      return e.message.includes('nothing was changed') ? 'nothing changed' : 'may have landed';
    },
  );

  const fresh = storeOn(base.tableName);
  const names = (await fresh.pools()).map((p) => p.name);
  if (outcome === 'applied') expect(names).toEqual(['a', 'b']);
  if (outcome === 'nothing changed') expect(names).toEqual(['a']);
  const again = await register(fresh, file);
  expect(again.result.pools.find((p) => p.name === 'b')?.action).toBe(names.includes('b') ? 'unchanged' : 'created');
  expect((await fresh.check()).ok).toBe(true);
});
