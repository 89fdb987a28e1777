// Labels, the caller and an owner across pools through the application in-process against DynamoDB
// Local: `labels` in the allocation body, PATCH …/owners/{owner} (merge patch), `?label=` on the
// listing, `allocated_by`, and GET /v1/owners/{owner}. The tests of this file share one table, in order.
import { beforeAll, describe, expect, test } from 'vitest';
import { callerOf } from '../../functions/http/app.js';
import * as schemas from '../../functions/http/schemas.js';
import { allocate, type App, call, expectError, parsed, poolsApp } from '../support/http-api.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 5000, end = 5100 }]

[pools.lo]
type = "ipv4"
prefix = "10.9.0.0/24"
`;

const patch = (app: App, pool: string, owner: string, json: unknown) => call(app, 'PATCH', `/v1/pools/${pool}/owners/${owner}`, { json });

describe('labels and owners on DynamoDB Local', () => {
  let app: App;
  beforeAll(async () => {
    app = await poolsApp(POOLS);
  });

  test('labels set by the allocation body are answered everywhere, with allocated_by', async () => {
    const made = parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'vpc-42', labels: { vpc: 'vpc-42', site: 'dc1' } }), 201);
    expect(made).toMatchObject({ labels: { vpc: 'vpc-42', site: 'dc1' }, allocated_by: 'local' });
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vni/owners/vpc-42'), 200)).toEqual(made);
    expect(parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/vni/allocations/${made.value}`), 200)).toEqual(made);
    // Without labels: {}.
    expect(parsed(schemas.Allocation, await allocate(app, 'lo', { owner: 'vpc-42' }), 201).labels).toEqual({});
  });

  test('PATCH merges: a value sets, null removes; the value and owner stay', async () => {
    const before = parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vni/owners/vpc-42'), 200);
    const after = parsed(schemas.Allocation, await patch(app, 'vni', 'vpc-42', { labels: { site: null, tier: 'gold' } }), 200);
    expect(after).toEqual({ ...before, labels: { vpc: 'vpc-42', tier: 'gold' } });
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vni/owners/vpc-42'), 200).labels).toEqual({ vpc: 'vpc-42', tier: 'gold' });
    expectError(await patch(app, 'vni', 'nobody', { labels: { a: 'b' } }), 'NOT_ALLOCATED');
    expectError(await patch(app, 'nope', 'vpc-42', { labels: { a: 'b' } }), 'POOL_NOT_FOUND');
  });

  test.each([
    ['a bad key', { owner: 'x', labels: { '-bad': 'v' } }, /labels\.-bad.*keys are 1-64 characters/],
    ['a value that is not a string', { owner: 'x', labels: { k: 5 } }, /labels\.k.*must be a string/],
    ['null in an allocation body', { owner: 'x', labels: { k: null } }, /labels\.k.*must be a string/],
    ['17 labels', { owner: 'x', labels: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, /at most 16 labels/],
    ['labels not an object', { owner: 'x', labels: ['a'] }, /labels.*JSON object of labels/],
  ])('%s is INVALID_ARGUMENT naming the field, and allocates nothing', async (_name, json, message) => {
    expect(expectError(await allocate(app, 'vni', json), 'INVALID_ARGUMENT').message).toMatch(message);
    expectError(await call(app, 'GET', '/v1/pools/vni/owners/x'), 'NOT_ALLOCATED');
  });

  test('a bad patch is INVALID_ARGUMENT and changes nothing', async () => {
    for (const json of [{ labels: { 'a b': 'v' } }, { labels: 'x' }, { labels: { a: 'b' }, extra: 1 }, {}]) {
      expectError(await patch(app, 'vni', 'vpc-42', json), 'INVALID_ARGUMENT');
    }
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vni/owners/vpc-42'), 200).labels).toEqual({ vpc: 'vpc-42', tier: 'gold' });
  });

  test('?label=key:value filters the listing, repeatable, all must match', async () => {
    for (let i = 0; i < 6; i++) await allocate(app, 'vni', { owner: `t${i}`, labels: { tenant: i % 2 ? 'a' : 'b', zone: i < 3 ? 'z1' : 'z2' } });
    const owners = async (query: string) => parsed(schemas.AllocationPage, await call(app, 'GET', `/v1/pools/vni/allocations?${query}`), 200).allocations.map((a) => a.owner).sort();
    expect(await owners('label=tenant:a')).toEqual(['t1', 't3', 't5']);
    expect(await owners('label=tenant:a&label=zone:z1')).toEqual(['t1']);
    expect(await owners('label=tenant:c')).toEqual([]);
    expect(await owners('label=vpc:vpc-42&limit=1')).toEqual(['vpc-42']);
    expect(expectError(await call(app, 'GET', '/v1/pools/vni/allocations?label=novalue'), 'INVALID_ARGUMENT').message).toContain('key:value');
  });

  test('GET /v1/owners/{owner} lists what the owner holds in every pool', async () => {
    const body = parsed(schemas.OwnerHoldings, await call(app, 'GET', '/v1/owners/vpc-42'), 200);
    expect(body.allocations.map((a) => a.pool)).toEqual(['lo', 'vni']);
    expect(body.allocations[1].labels).toEqual({ vpc: 'vpc-42', tier: 'gold' });
    expect(parsed(schemas.OwnerHoldings, await call(app, 'GET', '/v1/owners/nobody'), 200).allocations).toEqual([]);
    expectError(await call(app, 'GET', '/v1/owners/a%20b'), 'INVALID_ARGUMENT');
  });

  test('the caller: the IAM principal behind API Gateway, "local" on the local server', () => {
    expect(callerOf(undefined)).toBe('local');
    expect(callerOf({ incoming: {} })).toBe('local');
    expect(callerOf({ requestContext: { authorizer: { iam: { userArn: 'arn:aws:sts::123456789012:assumed-role/site/run-7' } } } })).toBe('arn:aws:sts::123456789012:assumed-role/site/run-7');
    expect(callerOf({ requestContext: {} })).toBe('unknown');
  });
});
