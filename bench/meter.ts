/**
 * Write units per operation, measured on the items themselves: a client whose successful transactions
 * are weighed item by item (the larger of the item before and after, as DynamoDB bills an update), and
 * whose allocation-record writes are also counted for the global indexes DynamoDB maintains from them.
 * It reads every item before and after each write, so it is for a metering pass, never for timing.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type TransactWriteItem,
  type TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';
import { localDynamoClient } from '../local/dynamodb-local.js';
import { itemSize, writeUnits } from './item-size.js';

export interface WriteTally {
  operations: number;
  /** Table write units, transactional items counted twice. */
  tableUnits: number;
  /** Write units of the global indexes, which copy every allocation record (by-value, by-owner), and of the room index. */
  indexUnits: number;
  /** The largest item written, in bytes. */
  largestItem: number;
}

type Key = Record<string, AttributeValue>;

export class WriteMeter {
  readonly client: DynamoDBClient;
  private readonly reader: DynamoDBClient;
  private tally: WriteTally = emptyTally();

  constructor(
    endpoint: string,
    private readonly tableName: string,
    /** The partition key attribute of each global index that copies whole items (by-value, by-owner). */
    private readonly indexKeys: readonly string[],
  ) {
    this.client = localDynamoClient(endpoint);
    this.reader = localDynamoClient(endpoint);
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
        const input = args.input as TransactWriteItemsCommandInput;
        const items = input.TransactItems ?? [];
        const before = await Promise.all(items.map((i) => this.read(keyOf(i))));
        const result = await next(args);
        const after = await Promise.all(items.map((i) => this.read(keyOf(i))));
        this.tally.operations++;
        items.forEach((item, n) => {
          const written = item.Put?.Item ?? after[n];
          const size = Math.max(before[n] ? itemSize(before[n]) : 0, written ? itemSize(written) : 0);
          this.tally.tableUnits += writeUnits(size, true);
          this.tally.largestItem = Math.max(this.tally.largestItem, size);
          for (const key of this.indexKeys) {
            const indexed = (before[n] && key in before[n]) || (written && key in written);
            if (indexed) this.tally.indexUnits += writeUnits(size, false);
          }
          // The room index (keys only): an entry put or deleted when the key appears or goes, both when it changes.
          const roomBefore = before[n]?.room?.S;
          const roomAfter = written?.room?.S;
          if (roomBefore !== roomAfter) this.tally.indexUnits += roomBefore !== undefined && roomAfter !== undefined ? 2 : 1;
        });
        return result;
      },
      { step: 'serialize', name: 'writeMeter' },
    );
  }

  /** The tally since the last take, and a fresh one. */
  take(): WriteTally {
    const t = this.tally;
    this.tally = emptyTally();
    return t;
  }

  private async read(key: Key | undefined): Promise<Record<string, AttributeValue> | undefined> {
    if (!key) return undefined;
    const out = await this.reader.send(new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return out.Item;
  }
}

function keyOf(i: TransactWriteItem): Key | undefined {
  if (i.Put?.Item) return { pk: i.Put.Item.pk, sk: i.Put.Item.sk };
  return i.Update?.Key ?? i.Delete?.Key ?? undefined;
}

function emptyTally(): WriteTally {
  return { operations: 0, tableUnits: 0, indexUnits: 0, largestItem: 0 };
}

export interface ReadTally {
  operations: number;
  /** Strongly consistent read units: 1 per 4 KB or part of each item read by key, of each query's whole answer. */
  units: number;
  /** The largest item read, in bytes. */
  largestItem: number;
}

/**
 * Read units per operation, from the sizes of what each read request brings back, as DynamoDB bills a
 * strongly consistent read: GetItem and each key of a BatchGetItem 1 unit per 4 KB of the item (an
 * absent item still costs 1), a Query 1 unit per 4 KB of everything it returns (at least 1).
 */
export class ReadMeter {
  private tally: ReadTally = { operations: 0, units: 0, largestItem: 0 };

  /** Meters the reads `client` sends (add it before the client's first request). */
  constructor(client: DynamoDBClient) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const output = result.output as {
          Item?: Record<string, AttributeValue>;
          Items?: Record<string, AttributeValue>[];
          Responses?: Record<string, Record<string, AttributeValue>[]>;
        };
        const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 4096));
        const seen = (item: Record<string, AttributeValue>) => {
          const size = itemSize(item);
          this.tally.largestItem = Math.max(this.tally.largestItem, size);
          return size;
        };
        if (context.commandName === 'GetItemCommand') this.tally.units += units(output.Item ? seen(output.Item) : 0);
        if (context.commandName === 'BatchGetItemCommand') {
          const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
          const asked = Object.values(input.RequestItems).reduce((n, r) => n + r.Keys.length, 0);
          const got = Object.values(output.Responses ?? {}).flat();
          this.tally.units += got.reduce((n, item) => n + units(seen(item)), 0) + (asked - got.length);
        }
        if (context.commandName === 'QueryCommand') this.tally.units += units((output.Items ?? []).reduce((n, item) => n + seen(item), 0));
        return result;
      },
      { step: 'initialize', name: 'readMeter' },
    );
  }

  /** Counts one operation (the caller marks where one ends). */
  operation(): void {
    this.tally.operations++;
  }

  take(): ReadTally {
    const t = this.tally;
    this.tally = { operations: 0, units: 0, largestItem: 0 };
    return t;
  }
}
