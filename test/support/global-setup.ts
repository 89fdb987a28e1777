/**
 * One DynamoDB Local for the whole test run; every test file makes its own table in it.
 *
 * This is the globalSetup of each project that needs it (vitest.config.mts), and vitest runs it only
 * for projects that have test files in the run: `--project unit` starts no Java. Vitest loads the
 * file once per project, so the one instance and the count of projects using it live on globalThis:
 * the first project's setup starts it, the last one's teardown stops it.
 */
import type { TestProject } from 'vitest/node';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    ddbEndpoint: string;
  }
}

interface Shared {
  ddb: Promise<DynamoDbLocal>;
  users: number;
}

const KEY = Symbol.for('resource-pools.test.dynamodb-local');
const registry = globalThis as { [KEY]?: Shared };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (registry[KEY] ??= { ddb: startDynamoDbLocal(), users: 0 });
  shared.users++;
  project.provide('ddbEndpoint', (await shared.ddb).endpoint);
  return async () => {
    if (--shared.users > 0) return;
    delete registry[KEY];
    await (await shared.ddb).stop();
  };
}
