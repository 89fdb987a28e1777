// History through the application in-process against DynamoDB Local, with the local stack's stream
// reader feeding the history function's handler: the three history routes, their pages, bounds and
// cursors, and bad input answered INVALID_ARGUMENT naming the parameter.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../functions/http/app.js';
import * as schemas from '../../functions/http/schemas.js';
import { type RecordedHistory, recordHistory } from '../support/history.js';
import { allocate, type App, call, capturingLogger, expectError, parsed } from '../support/http-api.js';
import { freshStore, register } from '../support/store.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 7000, end = 7100 }]

[pools.lo]
type = "ipv4"
prefix = "10.7.0.0/24"
`;

describe('history routes on DynamoDB Local', () => {
  let app: App;
  let history: RecordedHistory;
  beforeAll(async () => {
    const store = await freshStore({}, { changeStream: true });
    await register(store, POOLS);
    app = createApp({ store, maxPoolSize: 250_000, logger: capturingLogger() });
    history = await recordHistory(store);
  });
  afterAll(async () => history.stream.stop());

  test('who held a value, what an owner held, the pool timeline: newest first, with the caller', async () => {
    parsed(schemas.Allocation, await allocate(app, 'lo', { owner: 'dpu-1', value: '10.7.0.13', labels: { rack: 'r1' } }), 201);
    expect((await call(app, 'PATCH', '/v1/pools/lo/owners/dpu-1', { json: { labels: { rack: 'r2' } } })).status).toBe(200);
    expect((await call(app, 'DELETE', '/v1/pools/lo/allocations/10.7.0.13?owner=dpu-1')).status).toBe(204);
    parsed(schemas.Allocation, await allocate(app, 'lo', { owner: 'rack-9', prefix_length: 29, value: '10.7.0.8/29' }), 201);
    await history.settle();

    const ofValue = parsed(schemas.HistoryPage, await call(app, 'GET', '/v1/pools/lo/allocations/10.7.0.13/history'), 200);
    expect(ofValue.next_cursor).toBeNull();
    expect(ofValue.history.map((e) => [e.event, e.owner, e.value, e.by])).toEqual([
      ['allocated', 'rack-9', '10.7.0.8/29', 'local'],
      ['released', 'dpu-1', '10.7.0.13', 'local'],
      ['labels_changed', 'dpu-1', '10.7.0.13', 'local'],
      ['allocated', 'dpu-1', '10.7.0.13', 'local'],
    ]);
    expect(ofValue.history[2].labels).toEqual({ rack: 'r2' });
    const ofOwner = parsed(schemas.HistoryPage, await call(app, 'GET', '/v1/pools/lo/owners/dpu-1/history'), 200);
    expect(ofOwner.history.map((e) => e.event)).toEqual(['released', 'labels_changed', 'allocated']);
    const timeline = parsed(schemas.HistoryPage, await call(app, 'GET', '/v1/pools/lo/history'), 200);
    expect(timeline.history).toEqual(ofValue.history);
    // Every item of the same request shares its request id; different requests do not.
    expect(new Set(timeline.history.map((e) => e.request_id)).size).toBe(4);
  });

  test('pages follow next_cursor to the end; since and until bound the timeline', async () => {
    for (let i = 0; i < 7; i++) parsed(schemas.Allocation, await allocate(app, 'vni', { owner: `vpc-${i}` }), 201);
    await history.settle();
    const seen: string[] = [];
    let cursor = '';
    let pages = 0;
    do {
      const page = parsed(schemas.HistoryPage, await call(app, 'GET', `/v1/pools/vni/history?limit=3&cursor=${cursor}`), 200);
      seen.push(...page.history.map((e) => e.owner));
      cursor = page.next_cursor ?? '';
      pages++;
    } while (cursor !== '' && pages < 20);
    expect(seen).toEqual(['vpc-6', 'vpc-5', 'vpc-4', 'vpc-3', 'vpc-2', 'vpc-1', 'vpc-0']);
    const whole = parsed(schemas.HistoryPage, await call(app, 'GET', '/v1/pools/vni/history'), 200).history;
    const at = whole[3].at;
    const since = parsed(schemas.HistoryPage, await call(app, 'GET', `/v1/pools/vni/history?since=${at}`), 200).history;
    expect(since.map((e) => e.owner)).toEqual(whole.filter((e) => e.at >= at).map((e) => e.owner));
    const until = parsed(schemas.HistoryPage, await call(app, 'GET', `/v1/pools/vni/history?until=${at}`), 200).history;
    expect(until.map((e) => e.owner)).toEqual(whole.filter((e) => e.at <= at).map((e) => e.owner));
    const future = parsed(schemas.HistoryPage, await call(app, 'GET', '/v1/pools/vni/history?since=2999-01-01'), 200);
    expect(future).toEqual({ history: [], next_cursor: null });
  });

  test.each([
    ['a time that is not ISO 8601', '/v1/pools/vni/history?since=yesterday', /since.*ISO 8601/],
    ['a cursor this API never handed out', '/v1/pools/vni/history?cursor=abc', /cursor.*not a cursor/],
    ['a listing cursor', '/v1/pools/vni/owners/vpc-1/history?cursor=MDAwMDAwMDAwMDFiNTg', /cursor.*not a cursor/],
    ['a limit out of range', '/v1/pools/vni/history?limit=0', /limit.*1 to 1000/],
    ['an unknown parameter', '/v1/pools/vni/history?after=x', /after/],
    ['a value that is no address', '/v1/pools/lo/allocations/10.7.0.999/history', /value/],
  ])('%s is INVALID_ARGUMENT naming it', async (_what, path, message) => {
    expect(expectError(await call(app, 'GET', path), 'INVALID_ARGUMENT').message).toMatch(message);
  });

  test('an unknown pool is POOL_NOT_FOUND, a value outside the pool VALUE_NOT_IN_POOL', async () => {
    expectError(await call(app, 'GET', '/v1/pools/nope/history'), 'POOL_NOT_FOUND');
    expectError(await call(app, 'GET', '/v1/pools/lo/allocations/10.8.0.1/history'), 'VALUE_NOT_IN_POOL');
    expectError(await call(app, 'GET', '/v1/pools/vni/allocations/6999/history'), 'VALUE_NOT_IN_POOL');
  });
});
