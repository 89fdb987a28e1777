/**
 * The rules of labels (lib/labels.ts) and the write that changes them (lib/store/writes.ts): keys and
 * values accepted, the merge patch, listing filters, and the conditions of the update.
 */
import { describe, expect, test } from 'vitest';
import { labelIssue, matchesAll, mergeLabels, parseLabelFilter } from '../../lib/labels.js';
import type { HoldingItem } from '../../lib/store/items.js';
import { labelsWrite } from '../../lib/store/writes.js';

describe('label rules', () => {
  test.each(['vpc', 'a', 'k8s.io/zone', 'Site_1-b', '0x', 'k'.repeat(64)])('key %s is accepted', (key) => {
    expect(labelIssue(key, 'v')).toBeUndefined();
  });

  test.each(['', '-x', '.x', '/x', 'a b', 'ü', 'k'.repeat(65), 'a:b'])('key %j is refused, naming the rule', (key) => {
    expect(labelIssue(key, 'v')).toMatch(/keys are 1-64 characters of A-Za-z0-9._\/- starting with a letter or digit/);
  });

  test('values: 0-256 printable characters, any script; not a control character, not a number', () => {
    for (const v of ['', 'Zürich', 'x'.repeat(256), 'a b:c/d']) expect(labelIssue('k', v)).toBeUndefined();
    expect(labelIssue('k', 'x'.repeat(257))).toMatch(/0-256 printable characters/);
    expect(labelIssue('k', 'line\nbreak')).toMatch(/no control characters/);
    expect(labelIssue('k', 5)).toMatch(/must be a string/);
    expect(labelIssue('k', null)).toMatch(/must be a string/);
    expect(labelIssue('k', null, { removal: true })).toBeUndefined();
  });

  test('merge patch (RFC 7396): null removes, a value sets, the rest stays', () => {
    expect(mergeLabels({ a: '1', b: '2' }, { b: null, c: '3', a: '9' })).toEqual({ a: '9', c: '3' });
    expect(mergeLabels({}, { gone: null })).toEqual({});
  });

  test('filters: key:value, split at the first colon; all must match', () => {
    expect(parseLabelFilter('vpc:vpc-42')).toEqual({ ok: true, value: { key: 'vpc', value: 'vpc-42' } });
    expect(parseLabelFilter('url:http://x')).toEqual({ ok: true, value: { key: 'url', value: 'http://x' } });
    expect(parseLabelFilter('empty:')).toEqual({ ok: true, value: { key: 'empty', value: '' } });
    for (const bad of ['novalue', ':v', '-k:v']) expect(parseLabelFilter(bad)).toMatchObject({ ok: false, message: expect.stringContaining('key:value') });
    expect(matchesAll({ a: '1', b: '2' }, [{ key: 'a', value: '1' }, { key: 'b', value: '2' }])).toBe(true);
    expect(matchesAll({ a: '1' }, [{ key: 'a', value: '1' }, { key: 'b', value: '2' }])).toBe(false);
    expect(matchesAll({ toString: 'x' }, [{ key: 'constructor', value: '' }])).toBe(false);
  });
});

describe('the labels write', () => {
  const held: HoldingItem = { pool: 'vni', type: 'integer', owner: 'vpc-42', value: 5n, size: 1, at: '2026-12-02T00:00:00.000Z', rid: 'r-1' };
  const change = { at: '2026-12-02T01:00:00.000Z', by: 'local', requestId: 'q-1' };

  test('first change: on the request id and a record never relabelled', () => {
    expect(labelsWrite(held, { a: '1' }, change)).toEqual({
      Update: {
        Key: { pk: expect.any(String), sk: expect.any(String) },
        UpdateExpression: 'SET labels = :labels, #lv = :next, lat = :lat, lby = :lby, lrid = :lrid',
        ConditionExpression: 'rid = :rid AND attribute_not_exists(#lv)',
        ExpressionAttributeNames: { '#lv': 'lv' },
        ExpressionAttributeValues: { ':rid': 'r-1', ':next': 1, ':labels': { a: '1' }, ':lat': change.at, ':lby': 'local', ':lrid': 'q-1' },
      },
    });
  });

  test('later changes: on the version read; no labels left removes the map', () => {
    const w = labelsWrite({ ...held, labels: { a: '1' }, labelsVersion: 3 }, {}, change);
    expect(w).toMatchObject({
      Update: {
        UpdateExpression: 'SET #lv = :next, lat = :lat, lby = :lby, lrid = :lrid REMOVE labels',
        ConditionExpression: 'rid = :rid AND #lv = :seen',
        ExpressionAttributeValues: { ':rid': 'r-1', ':next': 4, ':seen': 3 },
      },
    });
  });
});
