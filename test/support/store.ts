/** A fresh table on the test run's DynamoDB Local, and a store on it. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { localDynamoClient } from '../../local/dynamodb-local.js';
import { registerFile } from '../../lib/registration.js';
import { PoolStore, type StoreOptions } from '../../lib/store/index.js';
import { parseConfigValue, type ValueSpace } from '../../lib/values.js';

export function testClient() {
  return localDynamoClient(inject('ddbEndpoint'));
}

/**
 * The time budget of stores in correctness tests. A store gives up after 8 s by design (a stalled
 * DynamoDB must not hold a call past the API's 10 s); tests of that budget set it themselves. Tests
 * of what happens under contention run on a 2-core machine next to the rest of the suite, where a
 * call can take seconds for no fault of the store: with the default, they would assert a wall-clock
 * time.
 */
export const TEST_BUDGET_MS = 60_000;

/** A store on an existing table, as another Lambda instance would have it: its own client. */
export function storeOn(tableName: string, options: Partial<StoreOptions> = {}): PoolStore {
  return new PoolStore({ client: testClient(), tableName, budgetMs: TEST_BUDGET_MS, ...options });
}

/**
 * A store on a new table. Without `changeStream` the table has none: only history tests read it, and
 * DynamoDB Local makes every write that feeds a stream slower (lib/store/table.ts, ensure).
 */
export async function freshStore(options: Partial<StoreOptions> = {}, { changeStream = false } = {}): Promise<PoolStore> {
  const store = storeOn(`t-${randomUUID()}`, options);
  await store.ensureTable({ changeStream });
  return store;
}

export async function register(store: PoolStore, toml: string, maxPoolSize = 250_000) {
  return registerFile(store, toml, { source: 'startup', maxPoolSize });
}

/** A ValueInput for tests: the value as a config file would write it. */
export function val(raw: string | number) {
  return (space: ValueSpace) => parseConfigValue(space, raw);
}

/** A block size for tests: `size` values, as the store takes it once it knows the pool. */
export function blockOf(size: number) {
  return (_space: ValueSpace) => ({ ok: true as const, value: BigInt(size) });
}
