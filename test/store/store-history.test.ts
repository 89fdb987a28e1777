/**
 * History on DynamoDB Local, derived from its change stream by the history function's handler (fed
 * by the local stack's stream reader): every allocation, release and label change is an entry with
 * its caller, readable by pool, value and owner, newest first, in pages that miss and repeat nothing;
 * entries written twice are one; a failing batch is delivered again; every entry is published once.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, test } from 'vitest';
import { expiresAt } from '../../lib/history.js';
import type { HistoryEntry, HistoryQuery } from '../../lib/model.js';
import type { PoolStore } from '../../lib/store/index.js';
import { type RecordedHistory, recordHistory } from '../support/history.js';
import { blockOf, freshStore, register, testClient, val } from '../support/store.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 1000, end = 1064 }]

[pools.lo]
type = "ipv4"
prefix = "10.0.0.0/24"
`;

const running: RecordedHistory[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stream.stop();
});

async function fresh(): Promise<{ store: PoolStore; history: RecordedHistory }> {
  const store = await freshStore({}, { changeStream: true });
  await register(store, POOLS);
  const history = await recordHistory(store);
  running.push(history);
  return { store, history };
}

async function allPages(store: PoolStore, q: Omit<HistoryQuery, 'limit' | 'after'>, limit: number): Promise<{ entries: HistoryEntry[]; pages: number }> {
  const entries: HistoryEntry[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await store.history({ ...q, limit, after });
    entries.push(...page.entries);
    after = page.next;
    pages++;
  } while (after && pages < 1000);
  return { entries, pages };
}

const brief = (e: HistoryEntry) => `${e.event} ${e.owner} ${e.value} by ${e.by}`;

describe('history', () => {
  test('allocations, label changes and releases become entries with their caller, newest first, by pool, by owner and by value', async () => {
    const { store, history } = await fresh();
    await store.allocate({ pool: 'vni', owner: 'vpc-1', value: val(1001), labels: { site: 'dc1' }, by: 'arn:aws:iam::1:role/a' });
    await store.relabel({ pool: 'vni', owner: 'vpc-1', patch: { site: 'dc2', vpc: 'vpc-1' }, by: 'arn:aws:iam::1:role/b' });
    await store.release({ pool: 'vni', owner: 'vpc-1', by: 'arn:aws:iam::1:role/c' });
    await store.allocate({ pool: 'vni', owner: 'vpc-2', value: val(1001), by: 'local' });
    await store.allocate({ pool: 'vni', owner: 'vpc-3', value: val(1002), by: 'local' });
    await history.settle();

    const timeline = await store.history({ pool: 'vni', limit: 100 });
    expect(timeline.next).toBeUndefined();
    expect(timeline.entries.map(brief)).toEqual([
      'allocated vpc-3 1002 by local',
      'allocated vpc-2 1001 by local',
      'released vpc-1 1001 by arn:aws:iam::1:role/c',
      'labels_changed vpc-1 1001 by arn:aws:iam::1:role/b',
      'allocated vpc-1 1001 by arn:aws:iam::1:role/a',
    ]);
    expect(timeline.entries[3].labels).toEqual({ site: 'dc2', vpc: 'vpc-1' });
    // The release records the labels the allocation carried.
    expect(timeline.entries[2].labels).toEqual({ site: 'dc2', vpc: 'vpc-1' });

    const ofValue = await store.history({ pool: 'vni', value: val(1001), limit: 100 });
    expect(ofValue.entries.map((e) => `${e.event} ${e.owner}`)).toEqual(['allocated vpc-2', 'released vpc-1', 'labels_changed vpc-1', 'allocated vpc-1']);
    const ofOwner = await store.history({ pool: 'vni', owner: 'vpc-1', limit: 100 });
    expect(ofOwner.entries.map((e) => e.event)).toEqual(['released', 'labels_changed', 'allocated']);
    expect(await store.history({ pool: 'vni', owner: 'nobody', limit: 100 })).toEqual({ entries: [] });
    // Nothing of another pool.
    expect((await store.history({ pool: 'lo', limit: 100 })).entries).toEqual([]);
  });

  test('a value inside a block finds the block; a block is one entry per event', async () => {
    const { store, history } = await fresh();
    const block = await store.allocate({ pool: 'lo', owner: 'rack-1', value: val('10.0.0.16'), size: blockOf(16), by: 'local' });
    expect(block.allocation.size).toBe(16);
    await store.release({ pool: 'lo', owner: 'rack-1', by: 'local' });
    await store.allocate({ pool: 'lo', owner: 'host-1', value: val('10.0.0.21'), by: 'local' });
    await store.allocate({ pool: 'lo', owner: 'host-2', value: val('10.0.0.40'), by: 'local' });
    await history.settle();
    const inside = await store.history({ pool: 'lo', value: val('10.0.0.21'), limit: 100 });
    expect(inside.entries.map((e) => `${e.event} ${e.owner} ${e.size}`)).toEqual(['allocated host-1 1', 'released rack-1 16', 'allocated rack-1 16']);
    const outside = await store.history({ pool: 'lo', value: val('10.0.0.40'), limit: 100 });
    expect(outside.entries.map((e) => e.owner)).toEqual(['host-2']);
    const never = await store.history({ pool: 'lo', value: val('10.0.0.200'), limit: 100 });
    expect(never.entries).toEqual([]);
  });

  test('pages of every size give every entry once, in order, and since/until bound them', async () => {
    const { store, history } = await fresh();
    for (let i = 0; i < 12; i++) {
      await store.allocate({ pool: 'vni', owner: `o-${i}`, value: val(1010 + (i % 3)), by: 'local' }).catch(() => undefined);
      await store.release({ pool: 'vni', owner: `o-${i}`, by: 'local' }).catch(() => undefined);
    }
    await history.settle();
    const whole = await store.history({ pool: 'vni', limit: 1000 });
    expect(whole.entries).toHaveLength(24);
    const keys = whole.entries.map((e) => `${e.at} ${e.event} ${e.owner}`);
    expect([...keys].sort().reverse()).toEqual(keys);
    for (const limit of [1, 5, 7]) {
      for (const q of [{ pool: 'vni' }, { pool: 'vni', value: val(1010) }, { pool: 'vni', owner: 'o-4' }]) {
        const unpaged = await store.history({ ...q, limit: 1000 });
        const paged = await allPages(store, q, limit);
        expect(paged.entries).toEqual(unpaged.entries);
        expect(paged.pages).toBeGreaterThanOrEqual(Math.ceil(unpaged.entries.length / limit));
      }
    }
    const middle = whole.entries[12].at;
    const since = await store.history({ pool: 'vni', since: middle, limit: 1000 });
    expect(since.entries).toEqual(whole.entries.filter((e) => e.at >= middle));
    const until = await store.history({ pool: 'vni', until: middle, limit: 1000 });
    expect(until.entries).toEqual(whole.entries.filter((e) => e.at <= middle));
  });

  test('every entry is published once, and the same change delivered twice is one entry', async () => {
    const { store, history } = await fresh();
    await store.allocate({ pool: 'vni', owner: 'a', by: 'local' });
    await store.relabel({ pool: 'vni', owner: 'a', patch: { x: '1' }, by: 'local' });
    await store.release({ pool: 'vni', owner: 'a', by: 'local' });
    await history.settle();
    expect(history.events.map((e) => e.event).sort()).toEqual(['allocated', 'labels_changed', 'released']);
    const before = await store.history({ pool: 'vni', limit: 100 });
    // The very changes again, as a stream delivers a batch a second time.
    const again = before.entries.find((e) => e.event === 'allocated') as HistoryEntry;
    await store.recordChanges([
      { kind: 'INSERT', keys: { pk: 'HOLD#vni#0', sk: 'OWNER#a' }, newItem: { pk: 'HOLD#vni#0', sk: 'OWNER#a', pool: 'vni', type: 'integer', owner: 'a', gsk: again.value.toString(16).padStart(14, '0'), size: 1, at: again.at, rid: again.requestId, by: 'local' } },
    ]);
    await history.settle();
    expect(await store.history({ pool: 'vni', limit: 100 })).toEqual(before);
    expect(history.events).toHaveLength(3);
  });

  test('batch items are entries too: one request id for the batch, each item its own entry, released ones written with the release', async () => {
    const { store, history } = await fresh();
    await store.allocateBatch([
      { pool: 'vni', owner: 'vpc-9', by: 'arn:aws:iam::1:role/batch' },
      { pool: 'lo', owner: 'vpc-9', by: 'arn:aws:iam::1:role/batch' },
      { pool: 'lo', owner: 'vpc-9-dpu', value: val('10.0.0.77'), by: 'arn:aws:iam::1:role/batch' },
    ]);
    await store.releaseBatch([{ pool: 'lo', owner: 'vpc-9' }, { pool: 'lo', owner: 'vpc-9-dpu' }, { pool: 'lo', owner: 'nobody' }], 'arn:aws:iam::1:role/cleanup');
    await history.settle();
    const lo = (await store.history({ pool: 'lo', limit: 100 })).entries;
    const allocated = lo.filter((e) => e.event === 'allocated');
    const released = lo.filter((e) => e.event === 'released');
    expect(allocated.map((e) => e.owner).sort()).toEqual(['vpc-9', 'vpc-9-dpu']);
    expect(released.map((e) => `${e.owner} by ${e.by}`).sort()).toEqual(['vpc-9 by arn:aws:iam::1:role/cleanup', 'vpc-9-dpu by arn:aws:iam::1:role/cleanup']);
    const vni = (await store.history({ pool: 'vni', limit: 100 })).entries;
    expect(vni.map((e) => `${e.event} ${e.owner} by ${e.by}`)).toEqual(['allocated vpc-9 by arn:aws:iam::1:role/batch']);
    // One request id across the batch's pools; the batch release has its own.
    expect(new Set([...allocated, ...vni].map((e) => e.requestId)).size).toBe(1);
    expect(new Set(released.map((e) => e.requestId)).size).toBe(1);
    expect(released[0].requestId).not.toBe(allocated[0].requestId);
  });

  test('entries expire HISTORY_DAYS after their time', async () => {
    const store = await freshStore({ historyDays: 30 }, { changeStream: true });
    await register(store, POOLS);
    const history = await recordHistory(store);
    running.push(history);
    await store.allocate({ pool: 'vni', owner: 'a', by: 'local' });
    await history.settle();
    const [entry] = (await store.history({ pool: 'vni', limit: 10 })).entries;
    const kept = await testClient().send(new ScanCommand({ TableName: store.tableName, FilterExpression: 'begins_with(pk, :h)', ExpressionAttributeValues: { ':h': { S: 'HIST#' } } }));
    expect(kept.Items?.map((i) => Number(i.ttl.N))).toEqual([Math.floor(Date.parse(entry.at) / 1000) + 30 * 86_400]);
    expect(expiresAt(entry, 30)).toBe(Number(kept.Items?.[0].ttl.N));
  });

  test('a batch the handler fails is delivered again until it is recorded', async () => {
    const store = await freshStore({}, { changeStream: true });
    await register(store, POOLS);
    let failures = 2;
    const events: HistoryEntry[] = [];
    const history = await recordHistory(store, {
      async publish(entries) {
        if (entries.length > 0 && failures-- > 0) throw new Error('injected: the event bus is down');
        events.push(...entries);
      },
    });
    running.push(history);
    await store.allocate({ pool: 'vni', owner: 'a', by: 'local' });
    await store.release({ pool: 'vni', owner: 'a', by: 'local' });
    await history.settle();
    expect(failures).toBeLessThan(0);
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['allocated', 'released']));
    expect((await store.history({ pool: 'vni', limit: 10 })).entries.map((e) => e.event)).toEqual(['released', 'allocated']);
  });
});
