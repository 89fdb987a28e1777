// Leases through the application in-process against DynamoDB Local: lease_seconds in the allocation
// body and in batch items (its bounds), expires_at in every Allocation, PATCH …/owners/{owner} with
// lease_seconds (alone or with labels), and an expired lease answered as released. The store's clock
// is one the tests move, an hour in the past (see test/store/store-leases.test.ts).
import { beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../functions/http/app.js';
import * as schemas from '../../functions/http/schemas.js';
import { allocate, type App, call, capturingLogger, expectError, parsed } from '../support/http-api.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freshStore, register } from '../support/store.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 5000, end = 5100 }]

[pools.lo]
type = "ipv4"
prefix = "10.9.0.0/24"
`;

const T0 = Date.now() - 3_600_000;
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
let seconds = 0;

const patch = (app: App, pool: string, owner: string, json: unknown) => call(app, 'PATCH', `/v1/pools/${pool}/owners/${owner}`, { json });

describe('leases over HTTP', () => {
  let app: App;
  let store: PoolStore;
  beforeAll(async () => {
    store = await freshStore({ now: () => new Date(T0 + seconds * 1000) });
    await register(store, POOLS);
    app = createApp({ store, maxPoolSize: 250_000, logger: capturingLogger() });
  });

  test('an allocation with lease_seconds shows expires_at everywhere; one without shows null; a retry does not renew', async () => {
    seconds = 0;
    const made = parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'vm-1', lease_seconds: 3600 }), 201);
    expect(made.expires_at).toBe(at(3600));
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vni/owners/vm-1'), 200)).toEqual(made);
    expect(parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/vni/allocations/${made.value}`), 200)).toEqual(made);
    const listed = parsed(schemas.AllocationPage, await call(app, 'GET', '/v1/pools/vni/allocations'), 200).allocations;
    expect(listed.find((a) => a.owner === 'vm-1')?.expires_at).toBe(at(3600));
    expect(parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'plain' }), 201).expires_at).toBeNull();

    seconds = 10;
    expect(parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'vm-1', lease_seconds: 60 }), 200)).toEqual(made);
  });

  test.each([
    ['below the minimum', 59],
    ['above the maximum', 31_536_001],
    ['not whole', 60.5],
    ['zero', 0],
    ['negative', -3600],
    ['a string', '3600'],
    ['null', null],
  ])('lease_seconds %s is INVALID_ARGUMENT naming the field and its range, and allocates nothing', async (_name, lease) => {
    const error = expectError(await allocate(app, 'vni', { owner: 'bad', lease_seconds: lease }), 'INVALID_ARGUMENT');
    expect(error.message).toContain('body.lease_seconds: must be a whole number of seconds from 60 to 31,536,000');
    expectError(await call(app, 'GET', '/v1/pools/vni/owners/bad'), 'NOT_ALLOCATED');
    const patched = expectError(await patch(app, 'vni', 'vm-1', { lease_seconds: lease }), 'INVALID_ARGUMENT');
    expect(patched.message).toContain('body.lease_seconds: must be a whole number of seconds from 60 to 31,536,000');
  });

  test('the bounds themselves are accepted', async () => {
    seconds = 0;
    expect(parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'shortest', lease_seconds: 60 }), 201).expires_at).toBe(at(60));
    expect(parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'longest', lease_seconds: 31_536_000 }), 201).expires_at).toBe(at(31_536_000));
  });

  test('PATCH with lease_seconds renews from now, or turns a lease on; with labels it does both; an empty patch is refused', async () => {
    seconds = 100;
    const renewed = parsed(schemas.Allocation, await patch(app, 'vni', 'vm-1', { lease_seconds: 600 }), 200);
    expect(renewed.expires_at).toBe(at(700));
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vni/owners/vm-1'), 200).expires_at).toBe(at(700));
    const both = parsed(schemas.Allocation, await patch(app, 'vni', 'plain', { labels: { team: 'a' }, lease_seconds: 120 }), 200);
    expect(both).toMatchObject({ labels: { team: 'a' }, expires_at: at(220) });
    // Labels alone leave the lease as it is.
    expect(parsed(schemas.Allocation, await patch(app, 'vni', 'vm-1', { labels: { x: 'y' } }), 200).expires_at).toBe(at(700));
    expect(expectError(await patch(app, 'vni', 'vm-1', {}), 'INVALID_ARGUMENT').message).toContain('accepted fields: labels, lease_seconds');
    expect(expectError(await patch(app, 'vni', 'vm-1', { lease: 60 }), 'INVALID_ARGUMENT').message).toContain('accepted fields: labels, lease_seconds');
    expectError(await patch(app, 'vni', 'nobody', { lease_seconds: 60 }), 'NOT_ALLOCATED');
    expectError(await patch(app, 'nope', 'vm-1', { lease_seconds: 60 }), 'POOL_NOT_FOUND');
  });

  test('a batch carries leases per item; a bad one fails the batch naming its index', async () => {
    seconds = 0;
    const made = parsed(
      schemas.BatchAllocations,
      await call(app, 'POST', '/v1/allocations', {
        json: { allocations: [{ pool: 'vni', owner: 'vpc-9', lease_seconds: 300 }, { pool: 'lo', owner: 'vpc-9' }, { pool: 'lo', owner: 'vpc-9b', lease_seconds: 86_400, value: '10.9.0.7' }] },
      }),
      201,
    );
    expect(made.allocations.map((a) => a.expires_at)).toEqual([at(300), null, at(86_400)]);
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/lo/owners/vpc-9b'), 200).expires_at).toBe(at(86_400));
    const bad = expectError(await call(app, 'POST', '/v1/allocations', { json: { allocations: [{ pool: 'vni', owner: 'b1' }, { pool: 'vni', owner: 'b2', lease_seconds: 10 }] } }), 'INVALID_ARGUMENT');
    expect(bad.message).toMatch(/allocations\[1\]\.lease_seconds: must be a whole number of seconds from 60/);
    expectError(await call(app, 'GET', '/v1/pools/vni/owners/b1'), 'NOT_ALLOCATED');
  });

  test('once the sweeper released an expired lease, the owner holds nothing and a renewal is NOT_ALLOCATED', async () => {
    seconds = 0;
    const made = parsed(schemas.Allocation, await allocate(app, 'lo', { owner: 'short', lease_seconds: 60 }), 201);
    seconds = 61;
    // Run out but not yet swept: still held, never handed to anyone else.
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/lo/owners/short'), 200).value).toBe(made.value);
    expectError(await allocate(app, 'lo', { owner: 'other', value: made.value }), 'VALUE_IN_USE');
    const swept = await store.expireLeases();
    expect(swept.expired.map((a) => a.owner)).toContain('short');
    expectError(await call(app, 'GET', '/v1/pools/lo/owners/short'), 'NOT_ALLOCATED');
    expectError(await patch(app, 'lo', 'short', { lease_seconds: 60 }), 'NOT_ALLOCATED');
    expect(parsed(schemas.Allocation, await allocate(app, 'lo', { owner: 'other', value: made.value }), 201).expires_at).toBeNull();
  });
});
