/**
 * The history function: the table's change stream in, history entries and events out. In AWS it is
 * invoked by DynamoDB Streams (infra/history-recorder.ts); on the local stack by the stream reader
 * (local/history-stream.ts), with the same records and this same code. A batch is handled whole:
 * the entries its records call for are written (the same entry twice is one item), then the entries
 * that reached the table are published. When anything fails, the batch is reported failed from its
 * first record and delivered again, so nothing is skipped; a published event may then be published
 * twice (EventBridge delivers at least once anyway).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { DETAIL_TYPES, EVENT_SOURCE, parseHistoryDays } from '../lib/history.js';
import type { HistoryEntry } from '../lib/model.js';
import { historyJson } from '../lib/shapes.js';
import { concernsHistory, dynamoClient, PoolStore, type TableChange } from '../lib/store/index.js';
import { SERVICE_NAME } from '../lib/telemetry.js';

/** Where history entries go once they are kept: the event bus in AWS, a log line (or nowhere) locally. */
export interface EventPublisher {
  publish(entries: readonly HistoryEntry[]): Promise<void>;
}

/** The event an entry becomes: source `resource-pools`, a detail-type per event, the entry as detail. */
export function eventOf(entry: HistoryEntry, busName: string): PutEventsRequestEntry {
  return { Source: EVENT_SOURCE, DetailType: DETAIL_TYPES[entry.event], Detail: JSON.stringify(historyJson(entry)), EventBusName: busName, Time: new Date(entry.at) };
}

/** PutEvents takes 10 entries a call. */
const EVENTS_PER_CALL = 10;
const PUT_ATTEMPTS = 3;

export function eventBridgePublisher(client: EventBridgeClient, busName = 'default'): EventPublisher {
  return {
    async publish(entries) {
      for (let i = 0; i < entries.length; i += EVENTS_PER_CALL) {
        let pending = entries.slice(i, i + EVENTS_PER_CALL).map((e) => eventOf(e, busName));
        for (let attempt = 1; pending.length > 0; attempt++) {
          const out = await client.send(new PutEventsCommand({ Entries: pending }));
          // A partial failure names each failed entry in place; only those are sent again.
          pending = pending.filter((_, k) => out.Entries?.[k]?.ErrorCode);
          if (pending.length > 0 && attempt >= PUT_ATTEMPTS) throw new Error(`EventBridge refused ${pending.length} event(s): ${out.Entries?.find((e) => e.ErrorCode)?.ErrorMessage ?? 'no reason given'}`);
        }
      }
    },
  };
}

/** One JSON line per event, as the local stack prints them with EVENTS_LOG=true. */
export function logPublisher(write: (line: string) => void): EventPublisher {
  return {
    async publish(entries) {
      for (const e of entries) write(JSON.stringify({ source: EVENT_SOURCE, 'detail-type': DETAIL_TYPES[e.event], time: e.at, detail: historyJson(e) }));
    },
  };
}

export const NO_EVENTS: EventPublisher = { publish: async () => {} };

type Image = Record<string, AttributeValue>;

/**
 * The changes a batch of stream records carries, in order, decoded; records that cannot concern
 * history (a chunk's bitmap, a pool definition) are left out unread.
 */
export function changesOf(records: readonly DynamoDBRecord[]): TableChange[] {
  const out: TableChange[] = [];
  for (const r of records) {
    const keys = r.dynamodb?.Keys && unmarshall(r.dynamodb.Keys as Image);
    if (!keys || !r.eventName || !concernsHistory(keys)) continue;
    out.push({
      kind: r.eventName,
      keys,
      oldItem: r.dynamodb?.OldImage && unmarshall(r.dynamodb.OldImage as Image),
      newItem: r.dynamodb?.NewImage && unmarshall(r.dynamodb.NewImage as Image),
    });
  }
  return out;
}

export interface HistoryHandlerOptions {
  store: PoolStore;
  publisher: EventPublisher;
  logger?: { error(message: string, extra?: Record<string, unknown>): void };
  /** Told how far behind the table each entry was when it was kept (ms). */
  onLag?: (ms: number) => void;
}

export type HistoryHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

export function createHistoryHandler(options: HistoryHandlerOptions): HistoryHandler {
  const logger = options.logger ?? new Logger({ serviceName: SERVICE_NAME });
  return async (event) => {
    const records = event.Records ?? [];
    try {
      const changes = changesOf(records);
      const published = await options.store.recordChanges(changes);
      await options.publisher.publish(published);
      if (options.onLag) for (const e of published) options.onLag(Date.now() - Date.parse(e.at));
      return { batchItemFailures: [] };
    } catch (e) {
      const first = records[0]?.dynamodb?.SequenceNumber;
      logger.error('history: a batch of stream records failed; it is delivered again from its first record', { error: (e as Error).message, records: records.length, first });
      return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
    }
  };
}

function fromEnvironment(): HistoryHandler {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set: the history function needs the allocation table name');
  const store = new PoolStore({ client: dynamoClient(), tableName, historyDays: parseHistoryDays(process.env.HISTORY_DAYS) });
  return createHistoryHandler({ store, publisher: eventBridgePublisher(new EventBridgeClient({}), process.env.EVENT_BUS_NAME ?? 'default') });
}

let built: HistoryHandler | undefined;

/** Built on the first invocation and kept for the life of the container. */
export const handler: HistoryHandler = (event) => (built ??= fromEnvironment())(event);
