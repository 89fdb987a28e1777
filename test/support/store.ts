/** A fresh table on the test run's DynamoDB Local, and a store on it. */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { localDynamoClient } from '../../local/dynamodb-local.js';
import { registerFile } from '../../lib/registration.js';
import { PoolStore, type StoreOptions } from '../../lib/store/index.js';
import { type PoolType, parseConfigValue } from '../../lib/values.js';

export function testClient() {
  return localDynamoClient(inject('ddbEndpoint'));
}

export async function freshStore(options: Partial<StoreOptions> = {}): Promise<PoolStore> {
  const store = new PoolStore({ client: testClient(), tableName: `t-${randomUUID()}`, ...options });
  await store.ensureTable();
  return store;
}

export async function register(store: PoolStore, toml: string, maxPoolSize = 250_000) {
  return registerFile(store, toml, { source: 'startup', maxPoolSize });
}

/** A ValueInput for tests: the value as a config file would write it. */
export function val(raw: string | number) {
  return (type: PoolType) => parseConfigValue(type, raw);
}
