/**
 * The history function as Lambda invokes it: a DynamoDB Streams event in Lambda's own JSON (binary
 * attributes in base64), records that mean nothing to history skipped unread, a failed batch reported
 * from its first record, and EventBridge's partial failures sent again (the faults are injected: a
 * bus that refuses entries).
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, test } from 'vitest';
import { changesOf, createHistoryHandler, eventBridgePublisher, eventOf, logPublisher } from '../../functions/history.js';
import type { HistoryEntry } from '../../lib/model.js';
import { freshStore, register } from '../support/store.js';

const entry: HistoryEntry = { pool: 'vni', type: 'integer', value: 7001n, size: 1, owner: 'vpc-1', event: 'allocated', at: '2026-12-02T10:00:00.000Z', by: 'local', requestId: 'r-1', labels: { a: 'b' } };

/** An allocation record's INSERT and a chunk's MODIFY, as Lambda delivers them. */
function records(): DynamoDBRecord[] {
  const holdKeys = { pk: { S: 'HOLD#vni#3' }, sk: { S: 'OWNER#vpc-1' } };
  return [
    {
      eventName: 'MODIFY',
      dynamodb: {
        SequenceNumber: '100',
        Keys: { pk: { S: 'POOL#vni' }, sk: { S: 'CHUNK#00000000' } },
        NewImage: { pk: { S: 'POOL#vni' }, sk: { S: 'CHUNK#00000000' }, bits: { B: 'AAE=' }, used: { N: '1' }, ver: { N: '2' } },
        OldImage: { pk: { S: 'POOL#vni' }, sk: { S: 'CHUNK#00000000' }, bits: { B: 'AAA=' }, used: { N: '0' }, ver: { N: '1' } },
      },
    },
    {
      eventName: 'INSERT',
      dynamodb: {
        SequenceNumber: '101',
        Keys: holdKeys,
        NewImage: {
          ...holdKeys,
          pool: { S: 'vni' },
          type: { S: 'integer' },
          owner: { S: 'vpc-1' },
          value: { S: '7001' },
          size: { N: '1' },
          at: { S: entry.at },
          rid: { S: 'r-1' },
          gpk: { S: 'POOL#vni' },
          gsk: { S: '00000000001b59' },
          labels: { M: { a: { S: 'b' } } },
          by: { S: 'local' },
        },
      },
    },
  ] as DynamoDBRecord[];
}

describe('the history function', () => {
  test('reads Lambda JSON: history-relevant records only, in order', () => {
    const changes = changesOf(records());
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ kind: 'INSERT', keys: { pk: 'HOLD#vni#3', sk: 'OWNER#vpc-1' }, newItem: { owner: 'vpc-1', labels: { a: 'b' } } });
  });

  test('a batch is recorded (on DynamoDB Local); a failure reports its first record for redelivery', async () => {
    const store = await freshStore({}, { changeStream: true });
    await register(store, '[pools.vni]\ntype = "integer"\nranges = [{ start = 7000, end = 7100 }]');
    const ok = createHistoryHandler({ store, publisher: logPublisher(() => {}), logger: { error: () => {} } });
    expect(await ok({ Records: records() } as DynamoDBStreamEvent)).toEqual({ batchItemFailures: [] });
    const kept = await store.history({ pool: 'vni', limit: 10 });
    expect(kept.entries).toEqual([entry]);

    const errors: string[] = [];
    const failing = createHistoryHandler({
      store,
      publisher: { publish: async () => Promise.reject(new Error('injected: the bus is down')) },
      logger: { error: (m) => void errors.push(m) },
    });
    expect(await failing({ Records: records() } as DynamoDBStreamEvent)).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
    expect(errors[0]).toMatch(/delivered again from its first record/);
  });

  test('events: source resource-pools, a detail-type per event, the entry as detail; refused entries are sent again, and a bus that keeps refusing fails the batch', async () => {
    expect(eventOf(entry, 'default')).toEqual({
      Source: 'resource-pools',
      DetailType: 'Allocation Allocated',
      EventBusName: 'default',
      Time: new Date(entry.at),
      Detail: JSON.stringify({ pool: 'vni', value: 7001, size: 1, owner: 'vpc-1', event: 'allocated', at: entry.at, by: 'local', request_id: 'r-1', labels: { a: 'b' } }),
    });
    const sent: number[] = [];
    let refuse = 1;
    const bus = {
      send: async (cmd: { input: { Entries: unknown[] } }) => {
        sent.push(cmd.input.Entries.length);
        // The first call refuses its second entry, as PutEvents reports a partial failure.
        const out = cmd.input.Entries.map((_, i) => (i === 1 && refuse-- > 0 ? { ErrorCode: 'InternalFailure', ErrorMessage: 'injected' } : { EventId: 'e' }));
        return { FailedEntryCount: out.filter((e) => 'ErrorCode' in e).length, Entries: out };
      },
    } as unknown as EventBridgeClient;
    const twelve = Array.from({ length: 12 }, (_, i) => ({ ...entry, owner: `o-${i}` }));
    await eventBridgePublisher(bus).publish(twelve);
    // Ten a call; the refused one again alone; then the last two.
    expect(sent).toEqual([10, 1, 2]);

    const never = { send: async (cmd: { input: { Entries: unknown[] } }) => ({ FailedEntryCount: 1, Entries: cmd.input.Entries.map(() => ({ ErrorCode: 'ThrottlingException', ErrorMessage: 'injected: slow down' })) }) } as unknown as EventBridgeClient;
    await expect(eventBridgePublisher(never).publish([entry])).rejects.toThrow(/EventBridge refused 1 event\(s\): injected: slow down/);
  });
});
