/**
 * Faults that DynamoDB Local cannot produce on its own (throttling, lost answers, stalls), injected
 * in front of a real client: every request still goes to DynamoDB Local unless the interceptor
 * decides otherwise.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { testClient } from './store.js';

/** The command's name, its input as sent, and the real send. */
export type Interceptor = (command: string, input: Record<string, unknown>, send: () => Promise<unknown>) => Promise<unknown>;

/** A client on the test run's DynamoDB Local whose requests pass through `intercept`. */
export function interceptedClient(intercept: Interceptor): DynamoDBClient {
  const client = testClient();
  client.middlewareStack.add(
    (next, context) => async (args) =>
      (await intercept(context.commandName ?? '', args.input as Record<string, unknown>, () => next(args))) as Awaited<ReturnType<typeof next>>,
    // Before the SDK's own retries: the store's handling of the fault is what is under test.
    { step: 'initialize', name: 'injectFault' },
  );
  return client;
}

export function throttling(): Error {
  return Object.assign(new Error('injected: throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException', $fault: 'client' });
}

/** What a caller sees when DynamoDB's answer never reaches it. */
export function lostAnswer(): Error {
  return Object.assign(new Error('injected: the answer was lost'), { name: 'InternalServerError', $fault: 'server' });
}

/** A file of `pools` integer pools p0000…, each `width` values wide, 100,000 apart from `from`. */
export function poolsFile(pools: number, width: number, from = 0): string {
  return Array.from({ length: pools }, (_, i) => `[pools.p${String(i).padStart(4, '0')}]\ntype = "integer"\nranges = [{ start = ${from + i * 100_000}, end = ${from + i * 100_000 + width} }]`).join('\n');
}

/** A promise and the function that resolves it. */
export function latch(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
