/**
 * History in tests: the local stack's stream reader on a test table, feeding the history function's
 * handler, with the events it publishes collected.
 */
import { inject } from 'vitest';
import { createHistoryHandler, type EventPublisher } from '../../functions/history.js';
import type { HistoryEntry } from '../../lib/model.js';
import type { PoolStore } from '../../lib/store/index.js';
import { type HistoryStream, startHistoryStream } from '../../local/history-stream.js';
import { testClient } from './store.js';

export interface RecordedHistory {
  stream: HistoryStream;
  /** Every entry published as an event, in order. */
  events: HistoryEntry[];
  /** Waits until every change made so far has been through the handler, and then the entries it wrote too. */
  settle(): Promise<void>;
}

export async function recordHistory(store: PoolStore, publisher?: EventPublisher): Promise<RecordedHistory> {
  const events: HistoryEntry[] = [];
  const stream = await startHistoryStream({
    endpoint: inject('ddbEndpoint'),
    dynamodb: testClient(),
    tableName: store.tableName,
    idleMs: 50,
    handler: createHistoryHandler({
      store,
      publisher: publisher ?? { publish: async (entries) => void events.push(...entries) },
      logger: { error: () => {} },
    }),
  });
  return {
    stream,
    events,
    async settle() {
      // Entries the handler writes come back through the stream as events: two rounds.
      for (let round = 0; round < 2; round++) if (!(await stream.caughtUp(60_000))) throw new Error('the history stream did not catch up within 60 s');
    },
  };
}
