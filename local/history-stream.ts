/**
 * The local stack's stand-in for the Lambda event source mapping: it reads the table's change stream
 * from DynamoDB Local (which serves DynamoDB Streams) and hands the records, shaped as Lambda hands
 * them, to the same history handler the deployed stack runs. Like the mapping it keeps its place per
 * shard (in DATA_DIR, so a restart neither skips nor replays much) and delivers a failed batch again
 * from where it failed; what it has delivered once may be delivered again after a crash, which the
 * handler makes harmless.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type GetShardIteratorCommandInput, type _Record, type Shard } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import type { HistoryHandler } from '../functions/history.js';

export interface HistoryStreamOptions {
  /** The DynamoDB (Local) whose table's stream is read. */
  endpoint: string;
  dynamodb: DynamoDBClient;
  tableName: string;
  handler: HistoryHandler;
  /** Where the place in each shard is kept; in memory only when absent. */
  checkpointFile?: string;
  /** How long to wait when the stream has nothing new. @default 200 */
  idleMs?: number;
  onError?: (message: string) => void;
}

export interface HistoryStream {
  stop(): Promise<void>;
  /** Resolves once every change made before the call has been handed to the handler (tests, benchmarks). */
  caughtUp(timeoutMs?: number): Promise<boolean>;
}

/** GetRecords' own limit. */
const RECORDS_PER_CALL = 1000;

export async function startHistoryStream(options: HistoryStreamOptions): Promise<HistoryStream> {
  const { dynamodb, tableName, handler } = options;
  const idleMs = options.idleMs ?? 200;
  // DynamoDB Local keeps one database per access key and region unless -sharedDb: the same as the table's client.
  const streams = new DynamoDBStreamsClient({ endpoint: options.endpoint, region: await dynamodb.config.region(), credentials: dynamodb.config.credentials, maxAttempts: 1 });
  const table = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = table.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${tableName} has no stream: history cannot be recorded`);

  const places: Record<string, string> = await readPlaces(options.checkpointFile);
  const iterators = new Map<string, string>();
  const closed = new Set<string>();
  let stopped = false;
  /** Bumped after every pass that found nothing new: what caughtUp waits for. */
  let quietPasses = 0;

  async function shards(): Promise<Shard[]> {
    const out: Shard[] = [];
    let start: string | undefined;
    do {
      const d = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }));
      out.push(...(d.StreamDescription?.Shards ?? []));
      start = d.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return out;
  }

  async function iteratorOf(shardId: string): Promise<string | undefined> {
    const known = iterators.get(shardId);
    if (known) return known;
    const after = places[shardId];
    const from = (position: Pick<GetShardIteratorCommandInput, 'ShardIteratorType' | 'SequenceNumber'>) => streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ...position }));
    if (after) {
      try {
        return (await from({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after })).ShardIterator;
      } catch (e) {
        // The place kept is no longer in the stream (trimmed, or another table's): from its oldest record.
        options.onError?.(`history stream: cannot resume shard ${shardId} after ${after} (${(e as Error).message}); reading it from its oldest record`);
        delete places[shardId];
      }
    }
    return (await from({ ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
  }

  /** One pass over every open shard; whether it delivered anything. */
  async function pass(): Promise<boolean> {
    let delivered = false;
    for (const shard of await shards()) {
      const id = shard.ShardId;
      if (!id || closed.has(id)) continue;
      const iterator = await iteratorOf(id);
      if (!iterator) {
        closed.add(id);
        continue;
      }
      const got = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: RECORDS_PER_CALL }));
      const records = got.Records ?? [];
      if (records.length > 0) {
        const answer = await handler({ Records: records.map(asLambdaRecord) });
        if (answer.batchItemFailures.length > 0) {
          // Delivered again from its first record, as the event source mapping does.
          iterators.delete(id);
          continue;
        }
        places[id] = records[records.length - 1].dynamodb?.SequenceNumber ?? places[id];
        await writePlaces(options.checkpointFile, places);
        delivered = true;
      }
      if (got.NextShardIterator) iterators.set(id, got.NextShardIterator);
      else {
        iterators.delete(id);
        closed.add(id);
      }
    }
    return delivered;
  }

  const loop = (async () => {
    while (!stopped) {
      let delivered = false;
      try {
        delivered = await pass();
      } catch (e) {
        options.onError?.(`history stream: ${(e as Error).message}; trying again`);
        iterators.clear();
      }
      if (!delivered) {
        quietPasses++;
        await new Promise((r) => setTimeout(r, idleMs));
      }
    }
  })();

  return {
    async stop() {
      stopped = true;
      await loop;
      streams.destroy();
    },
    async caughtUp(timeoutMs = 30_000) {
      // Two quiet passes that both started after this call: everything before it was read and handed on.
      const target = quietPasses + 2;
      const until = Date.now() + timeoutMs;
      while (quietPasses < target) {
        if (Date.now() > until || stopped) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    },
  };
}

/** A stream record as Lambda's DynamoDB event source delivers it. */
function asLambdaRecord(r: _Record): DynamoDBRecord {
  return { eventID: r.eventID, eventName: r.eventName, eventSource: 'aws:dynamodb', dynamodb: r.dynamodb as DynamoDBRecord['dynamodb'] };
}

async function readPlaces(file: string | undefined): Promise<Record<string, string>> {
  if (!file) return {};
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

async function writePlaces(file: string | undefined, places: Record<string, string>): Promise<void> {
  if (!file) return;
  // Whole or not at all: a crash mid-write must not leave half a file.
  await writeFile(`${file}.tmp`, JSON.stringify(places));
  await rename(`${file}.tmp`, file);
}
