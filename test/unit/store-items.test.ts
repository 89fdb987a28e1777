/**
 * The store's items and writes, built and read without DynamoDB: every write builder's key, condition
 * and values, and every item decoded field by field (a malformed one is a CorruptItem, not half-read).
 */
import { describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import { CorruptItem, decodeChunk, decodeHolding, decodeIntent, decodeMeta, decodePage, decodeRegistry, encodeHolding, encodeIntent, encodeMeta, encodePage, type MetaItem } from '../../lib/store/items.js';
import { holdingKey, LEASE_SHARDS, leasePk, ownerShard, OWNER_SHARDS } from '../../lib/store/keys.js';
import { syncWrite } from '../../lib/store/syncs.js';
import {
  chunkWrite,
  holdingDelete,
  holdingExpire,
  holdingPut,
  labelsWrite,
  leaseWrite,
  intentMove,
  metaGrow,
  metaStage,
  pageWrite,
  registryWrite,
} from '../../lib/store/writes.js';

const meta: MetaItem = { name: 'vpc-vni', type: 'integer', lver: 3, nseg: 2, createdAt: '2026-12-01T00:00:00.000Z', updatedAt: '2026-12-01T00:00:00.000Z', ver: 7 };

describe('items round-trip field by field', () => {
  test('pool definition, layout page, allocation record, intent', () => {
    expect(decodeMeta(encodeMeta(meta))).toEqual({ ...meta, prefix: undefined, pendingIntent: undefined, staged: undefined });
    expect(decodeMeta(encodeMeta({ ...meta, kind: 'vni' }))).toMatchObject({ kind: 'vni' });
    const page = { page: 0, segments: [{ start: 2024500n, end: 2025500n, autoAssign: true, firstChunk: 0, chunkBits: 8 }], virtual: [true], ver: 2, room: '3abc' };
    expect(decodePage(encodePage('vpc-vni', page))).toEqual(page);
    const holding = { pool: 'lo', type: 'ipv4' as const, owner: 'dpu-7', value: 0x0ab43e05n, size: 1, at: '2026-12-01T00:00:00.000Z', rid: 'r-1' };
    const item = encodeHolding(holding);
    expect(item).toMatchObject({ ...holdingKey('lo', 'dpu-7'), value: '10.180.62.5', gpk: 'POOL#lo', gsk: '0ab43e05' });
    expect(decodeHolding(item)).toEqual({ ...holding, labels: {} });
    // Labels, their version and the caller, when there are some.
    const labelled = { ...holding, labels: { vpc: 'vpc-42' }, labelsVersion: 2, by: 'local' };
    expect(decodeHolding({ ...encodeHolding(labelled), lv: 2 })).toEqual(labelled);
    expect(encodeHolding({ ...holding, labels: {} }).labels).toBeUndefined();
    const intent = { id: 'i-1', status: 'pending' as const, at: 'now', created: ['a'], grown: ['b'] };
    expect(decodeIntent({ pk: 'REGISTRATION', sk: 'i-1', ...encodeIntent(intent, 99) })).toEqual(intent);
    expect(decodeRegistry(undefined)).toEqual({ pools: new Map(), ver: 0 });
    expect(decodeRegistry({ pk: 'REGISTRY', sk: 'REGISTRY', pools: { a: 'ipv4' }, ver: 4 })).toEqual({ pools: new Map([['a', 'ipv4']]), ver: 4 });
  });

  test('a chunk whose empty bitmap DynamoDB left out is all free', () => {
    expect(decodeChunk({ pk: 'POOL#p', sk: 'CHUNK#0000000a', used: 0, ver: 3 })).toEqual({ chunk: 10, bits: new Uint8Array(0), used: 0, ver: 3, room: undefined, at: undefined });
  });

  test.each([
    ['a number that is text', () => decodeChunk({ pk: 'POOL#p', sk: 'CHUNK#00000000', bits: new Uint8Array(1), used: '1', ver: 1 })],
    ['an unknown pool type', () => decodeMeta({ ...encodeMeta(meta), type: 'vlan' })],
    ['an unknown integer kind', () => decodeMeta({ ...encodeMeta(meta), kind: 'vxlan' })],
    ['a registry pool of no type', () => decodeRegistry({ pk: 'REGISTRY', sk: 'REGISTRY', pools: { a: 7 }, ver: 1 })],
    ['a malformed segment', () => decodePage({ pk: 'POOL#p', sk: 'LAYOUT#00', segs: ['1,2,3'], ver: 1 })],
  ])('%s is a CorruptItem naming the field', (_what, read) => {
    expect(read).toThrow(CorruptItem);
    try {
      read();
    } catch (e) {
      expect(isPoolError(e, 'INTERNAL')).toBe(true);
      expect((e as Error).message).toMatch(/field '/);
    }
  });

  test('owners spread over the shards deterministically', () => {
    const shards = new Set(Array.from({ length: 500 }, (_, i) => ownerShard(`vpc-${i}`)));
    expect(shards.size).toBe(OWNER_SHARDS);
    expect(ownerShard('vpc-42')).toBe(ownerShard('vpc-42'));
  });
});

describe('write builders', () => {
  test('a chunk write: on its version and incarnation, or on its absence; the room key set or removed with the bits', () => {
    const pool = { name: 'p', createdAt: '2026-01-01T00:00:00.000Z' };
    const created = chunkWrite(pool, 5, undefined, { bits: new Uint8Array([1]), used: 1, room: '2x', at: 10 });
    expect(created).toEqual({
      Update: {
        Key: { pk: 'POOL#p', sk: 'CHUNK#00000005' },
        UpdateExpression: 'SET bits = :bits, used = :used, #ver = :next, #at = :at, #born = :born, #room = :room',
        ConditionExpression: 'attribute_not_exists(pk)',
        ExpressionAttributeNames: { '#ver': 'ver', '#at': 'at', '#born': 'born', '#room': 'room' },
        ExpressionAttributeValues: { ':born': pool.createdAt, ':bits': new Uint8Array([1]), ':used': 1, ':at': 10, ':next': 1, ':room': '2x' },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
    const full = chunkWrite(pool, 5, { chunk: 5, bits: new Uint8Array([254]), used: 7, ver: 4 }, { bits: new Uint8Array([255]), used: 8, room: undefined, at: 11 });
    if (!('Update' in full)) throw new Error('not an update');
    expect(full.Update.UpdateExpression).toBe('SET bits = :bits, used = :used, #ver = :next, #at = :at, #born = :born REMOVE #room');
    expect(full.Update.ConditionExpression).toBe('#ver = :seen AND (#born = :born OR attribute_not_exists(#born))');
    expect(full.Update.ExpressionAttributeValues).toMatchObject({ ':seen': 4, ':next': 5, ':born': pool.createdAt });
  });

  test('an allocation record: created on its absence, deleted on its request id; both hand the record back on failure', () => {
    const h = { pool: 'p', type: 'integer' as const, owner: 'o', value: 5n, size: 1, at: 'now', rid: 'r-1' };
    expect(holdingPut(h)).toEqual({ Put: { Item: encodeHolding(h), ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } });
    expect(holdingDelete('p', 'o', 'r-1')).toEqual({
      Delete: { Key: holdingKey('p', 'o'), ConditionExpression: 'rid = :rid', ExpressionAttributeValues: { ':rid': 'r-1' }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' },
    });
  });

  test('the registry: created on its absence, or changed on the version planned against', () => {
    expect(registryWrite({ pools: new Map(), ver: 0 }, new Map([['a', 'ipv4']]))).toEqual({
      Put: { Item: { pk: 'REGISTRY', sk: 'REGISTRY', pools: { a: 'ipv4' }, ver: 1 }, ConditionExpression: 'attribute_not_exists(pk)' },
    });
    expect(registryWrite({ pools: new Map([['a', 'ipv4']]), ver: 4 }, new Map([['b', 'integer']]))).toEqual({
      Put: {
        Item: { pk: 'REGISTRY', sk: 'REGISTRY', pools: { a: 'ipv4', b: 'integer' }, ver: 5 },
        ConditionExpression: '#ver = :seen',
        ExpressionAttributeNames: { '#ver': 'ver' },
        ExpressionAttributeValues: { ':seen': 4 },
      },
    });
  });

  test('a pool grows, or stages a grow, only on the version read and only when nothing else is staged', () => {
    for (const w of [metaGrow(meta, { lver: 4, nseg: 3, updatedAt: 'now' }), metaStage(meta, { intent: 'i', lver: 4, nseg: 3, updatedAt: 'now' })]) {
      if (!('Update' in w)) throw new Error('not an update');
      expect(w.Update.ConditionExpression).toBe('#ver = :seen AND attribute_not_exists(staged) AND attribute_not_exists(pending)');
      expect(w.Update.ExpressionAttributeValues).toMatchObject({ ':seen': 7, ':next': 8 });
    }
    const page = { page: 1, segments: [], virtual: [], ver: 3 };
    expect(pageWrite('p', page, page)).toMatchObject({ Put: { ConditionExpression: '#ver = :seen', ExpressionAttributeValues: { ':seen': 3 } } });
    expect(pageWrite('p', undefined, page)).toMatchObject({ Put: { ConditionExpression: 'attribute_not_exists(pk)' } });
  });

  test('an intent moves on only from the status expected; committing it removes its expiry', () => {
    const commit = intentMove('i', 'pending', 'committed');
    if (!('Update' in commit)) throw new Error('not an update');
    expect(commit.Update).toMatchObject({ UpdateExpression: 'SET #status = :to REMOVE #ttl', ConditionExpression: 'attribute_exists(pk) AND #status = :from' });
    const abort = intentMove('i', 'pending', 'aborted', 123);
    if (!('Update' in abort)) throw new Error('not an update');
    expect(abort.Update).toMatchObject({ UpdateExpression: 'SET #status = :to, #ttl = :ttl', ExpressionAttributeValues: { ':ttl': 123, ':to': 'aborted' } });
  });

  test('a sync record keeps at most 100 entries of each list, and counts the rest', () => {
    const errors = Array.from({ length: 150 }, (_, i) => ({ path: `p${i}`, message: 'm' }));
    const w = syncWrite({ id: 'x', source: 'http', status: 'rejected', at: '2026-12-01T00:00:00.000Z', errors });
    if (!('Put' in w)) throw new Error('not a put');
    expect(w.Put.Item).toMatchObject({ pk: 'SYNC#2026-12', sk: '2026-12-01T00:00:00.000Z#x' });
    const record = JSON.parse(String(w.Put.Item.record));
    expect(record.errors).toHaveLength(101);
    expect(record.errors[100]).toEqual({ path: '(more)', message: '50 more errors not recorded' });
  });
});

describe('leases', () => {
  const holding = { pool: 'lo', type: 'ipv4' as const, owner: 'job-7', value: 0x0ab43e05n, size: 1, at: '2026-12-01T00:00:00.000Z', rid: 'r-1' };
  const expires = '2026-12-01T01:00:00.000Z';

  test('only a leased record carries the by-expiry keys (a sparse index), and they read back as its expiry', () => {
    const plain = encodeHolding(holding);
    expect(plain).not.toHaveProperty('lpk');
    expect(plain).not.toHaveProperty('exp');
    expect(decodeHolding(plain).expires).toBeUndefined();
    const leased = encodeHolding({ ...holding, expires });
    expect(leased).toMatchObject({ lpk: leasePk('lo', 'job-7'), exp: expires });
    expect(decodeHolding(leased).expires).toBe(expires);
  });

  test('a lease partition is fixed for (pool, owner) and owners spread over every partition', () => {
    expect(leasePk('lo', 'job-7')).toBe(leasePk('lo', 'job-7'));
    const seen = new Set(Array.from({ length: 400 }, (_, i) => leasePk('lo', `job-${i}`)));
    expect([...seen].sort()).toEqual(Array.from({ length: LEASE_SHARDS }, (_, i) => `LEASE#${i}`));
  });

  test('a renewal lands only on the allocation read; with labels, on their version too', () => {
    const w = leaseWrite(holding, expires);
    expect(w).toEqual({
      Update: {
        Key: holdingKey('lo', 'job-7'),
        UpdateExpression: 'SET #lpk = :lpk, #exp = :exp',
        ConditionExpression: 'rid = :rid',
        ExpressionAttributeNames: { '#lpk': 'lpk', '#exp': 'exp' },
        ExpressionAttributeValues: { ':rid': 'r-1', ':lpk': leasePk('lo', 'job-7'), ':exp': expires },
      },
    });
    const both = labelsWrite({ ...holding, labelsVersion: 2 }, { a: 'b' }, { at: expires, by: 'x', requestId: 'q' }, expires);
    if (!('Update' in both)) throw new Error('an update');
    expect(both.Update.ConditionExpression).toBe('rid = :rid AND #lv = :seen');
    expect(both.Update.UpdateExpression).toContain('#lpk = :lpk, #exp = :exp');
    expect(both.Update.ExpressionAttributeValues).toMatchObject({ ':exp': expires, ':seen': 2 });
    const labelsOnly = labelsWrite(holding, { a: 'b' }, { at: expires, by: 'x', requestId: 'q' });
    if (!('Update' in labelsOnly)) throw new Error('an update');
    expect(labelsOnly.Update.UpdateExpression).not.toContain('exp');
  });

  test("the sweeper's delete holds only for the allocation read, with the expiry read, once past", () => {
    expect(holdingExpire({ ...holding, expires }, '2026-12-01T01:00:30.000Z')).toEqual({
      Delete: {
        Key: holdingKey('lo', 'job-7'),
        ConditionExpression: 'rid = :rid AND #exp = :exp AND #exp <= :now',
        ExpressionAttributeNames: { '#exp': 'exp' },
        ExpressionAttributeValues: { ':rid': 'r-1', ':exp': expires, ':now': '2026-12-01T01:00:30.000Z' },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  });
});
