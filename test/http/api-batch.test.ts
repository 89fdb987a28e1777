// Batches over HTTP, in-process against DynamoDB Local: POST /v1/allocations (201, 200 on a retry,
// errors per item with the lowest index's status, request shape errors naming the field with its
// index) and POST /v1/releases. The tests of this file share one table, in order.
import { beforeAll, describe, expect, test } from 'vitest';
import * as schemas from '../../functions/http/schemas.js';
import { type App, call, expectError, parsed, poolsApp } from '../support/http-api.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 5000, end = 5100 }]

[pools.vlan]
type = "integer"
kind = "vlan"
ranges = [{ start = 100, end = 108 }]

[pools.lo]
type = "ipv4"
prefix = "10.9.0.0/24"

[pools.tenant]
type = "ipv4"
ranges = [{ start = "10.10.0.0", end = "10.10.4.0" }]
`;

const batch = (app: App, allocations: unknown) => call(app, 'POST', '/v1/allocations', { json: { allocations } });
const releases = (app: App, items: unknown) => call(app, 'POST', '/v1/releases', { json: { releases: items } });

interface Detail {
  index: number;
  code: string;
  message: string;
}

describe('batches over HTTP', () => {
  let app: App;
  beforeAll(async () => {
    app = await poolsApp(POOLS);
  });

  const VPC = [
    { pool: 'vni', owner: 'vpc-42', labels: { vpc: 'vpc-42' } },
    { pool: 'vlan', owner: 'vpc-42' },
    { pool: 'lo', owner: 'vpc-42:dpu-1' },
    { pool: 'lo', owner: 'vpc-42:gw', value: '10.9.0.9' },
    { pool: 'tenant', owner: 'vpc-42', prefix_length: 28 },
  ];

  test('201 with every allocation in item order; the same batch again answers 200 with the same allocations', async () => {
    const made = parsed(schemas.BatchAllocations, await batch(app, VPC), 201);
    expect(made.allocations.map((a) => [a.pool, a.owner, a.size])).toEqual([
      ['vni', 'vpc-42', 1],
      ['vlan', 'vpc-42', 1],
      ['lo', 'vpc-42:dpu-1', 1],
      ['lo', 'vpc-42:gw', 1],
      ['tenant', 'vpc-42', 16],
    ]);
    expect(made.allocations[0]).toMatchObject({ labels: { vpc: 'vpc-42' }, allocated_by: 'local' });
    expect(made.allocations[3].value).toBe('10.9.0.9');
    expect(made.allocations[4].value).toMatch(/^10\.10\.\d+\.\d+\/28$/);
    for (const a of made.allocations) {
      expect(parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/${a.pool}/owners/${encodeURIComponent(a.owner)}`), 200)).toEqual(a);
    }
    expect(parsed(schemas.BatchAllocations, await batch(app, VPC), 200)).toEqual(made);
  });

  test('an error allocates nothing: status of the lowest failing index, details per item', async () => {
    const before = parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200);
    const answer = await batch(app, [
      { pool: 'vni', owner: 'new-1' },
      { pool: 'vlan', owner: 'new-1', value: 100 + 200 },
      { pool: 'lo', owner: 'new-1', value: '10.9.0.9' },
      { pool: 'vni', owner: 'vpc-42', value: 5099 },
      { pool: 'nope', owner: 'new-1' },
    ]);
    const error = expectError(answer, 'VALUE_NOT_IN_POOL');
    // Item 0 could be placed, so the others are placed too as far as they get: item 2 is found in use.
    expect((error.details as Detail[]).map((d) => [d.index, d.code])).toEqual([
      [1, 'VALUE_NOT_IN_POOL'],
      [2, 'VALUE_IN_USE'],
      [3, 'OWNER_CONFLICT'],
      [4, 'POOL_NOT_FOUND'],
    ]);
    expect(error.message).toMatch(/^item 1 of the batch: 300 is not a value of pool 'vlan' \(3 more items failed: 2, 3, 4\); nothing was allocated$/);
    expect(parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200)).toEqual(before);

    // Once the owners' conflicts are out of the way, the value held by another owner is what fails (409).
    const inUse = expectError(await batch(app, [{ pool: 'vni', owner: 'new-1' }, { pool: 'lo', owner: 'new-1', value: '10.9.0.9' }]), 'VALUE_IN_USE');
    expect(inUse.details).toEqual([{ index: 1, code: 'VALUE_IN_USE', message: "10.9.0.9 in pool 'lo' is held by another owner" }]);
    expectError(await call(app, 'GET', '/v1/pools/vni/owners/new-1'), 'NOT_ALLOCATED');
  });

  test('exhaustion part-way allocates nothing: 409 RESOURCE_EXHAUSTED for the item that found no room', async () => {
    const items = Array.from({ length: 8 }, (_, i) => ({ pool: 'vlan', owner: `rack-${i}` }));
    const error = expectError(await batch(app, items), 'RESOURCE_EXHAUSTED');
    // vlan has eight values and vpc-42 holds one: the eighth item finds none.
    expect(error.details).toEqual([{ index: 7, code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/no free auto-assignable value is left in pool 'vlan'/) }]);
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/vlan'), 200).used).toBe(1);
    const seven = parsed(schemas.BatchAllocations, await batch(app, items.slice(0, 7)), 201);
    expect(new Set(seven.allocations.map((a) => a.value)).size).toBe(7);
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/vlan'), 200).free).toBe(0);
  });

  test.each([
    ['a missing owner', [{ pool: 'vni' }], /^item 0 of the batch: allocations\[0\]\.owner: required/],
    ['a bad owner in the fourth item', [...Array.from({ length: 3 }, (_, i) => ({ pool: 'vni', owner: `o-${i}` })), { pool: 'vni', owner: 'a b' }], /^item 3 of the batch: allocations\[3\]\.owner: must be 1-256 characters/],
    ['an unknown field', [{ pool: 'vni', owner: 'x', lease: 60 }], /allocations\[0\]: unknown field "lease"; accepted fields: pool, owner, value, prefix_length, size, labels, lease_seconds/],
    ['a missing pool', [{ owner: 'x' }], /allocations\[0\]\.pool: required: the pool name/],
    ['a bad label', [{ pool: 'vni', owner: 'x', labels: { '-k': 'v' } }], /allocations\[0\]\.labels\.-k: label key "-k" is not accepted/],
  ])('%s is INVALID_ARGUMENT naming the field with its index', async (_name, items, message) => {
    const error = expectError(await batch(app, items), 'INVALID_ARGUMENT');
    expect(error.message).toMatch(message);
    expect((error.details as Detail[]).every((d) => d.code === 'INVALID_ARGUMENT' && typeof d.index === 'number')).toBe(true);
  });

  test('every bad item is listed; a bad body, no item or 26 items is INVALID_ARGUMENT about the body', async () => {
    const many = expectError(await batch(app, [{ pool: 'vni' }, { pool: 'vni', owner: 'ok' }, { pool: 5, owner: 'x' }]), 'INVALID_ARGUMENT');
    expect((many.details as Detail[]).map((d) => d.index)).toEqual([0, 2]);
    expect((many.details as Detail[])[1].message).toMatch(/^allocations\[2\]\.pool: must be a pool name string; got number 5$/);

    const tooMany = expectError(await batch(app, Array.from({ length: 26 }, (_, i) => ({ pool: 'vni', owner: `o-${i}` }))), 'INVALID_ARGUMENT');
    expect(tooMany.message).toBe('body.allocations: must be a list of 1 to 25 allocations; got 26 items: split it into smaller batches');
    expect(expectError(await batch(app, []), 'INVALID_ARGUMENT').message).toBe('body.allocations: must be a list of 1 to 25 allocations; got 0 items');
    expect(expectError(await call(app, 'POST', '/v1/allocations', { json: { owner: 'x' } }), 'INVALID_ARGUMENT').message).toMatch(/unknown field "owner"; accepted fields: allocations/);
    expect(expectError(await call(app, 'POST', '/v1/allocations', { json: [] }), 'INVALID_ARGUMENT').message).toMatch(/^body: must be a JSON object such as/);
    const twice = expectError(await batch(app, [{ pool: 'vni', owner: 'same' }, { pool: 'vni', owner: 'same', value: 5001 }]), 'INVALID_ARGUMENT');
    expect(twice.details).toEqual([{ index: 1, code: 'INVALID_ARGUMENT', message: "pool 'vni' and owner 'same' are already item 0 of this batch; a batch names each (pool, owner) once" }]);
    // A name no pool can have is an unknown pool, as in a path.
    expect(expectError(await batch(app, [{ pool: 'x'.repeat(300), owner: 'a' }]), 'POOL_NOT_FOUND').message).toMatch(/pool names are 1-64 characters/);
  });

  test('POST /v1/releases releases in one step; an owner holding nothing is released false', async () => {
    const answer = parsed(
      schemas.BatchReleases,
      await releases(app, [
        { pool: 'vni', owner: 'vpc-42' },
        { pool: 'tenant', owner: 'vpc-42' },
        { pool: 'lo', owner: 'nobody' },
      ]),
      200,
    );
    expect(answer).toEqual({
      releases: [
        { pool: 'vni', owner: 'vpc-42', released: true },
        { pool: 'tenant', owner: 'vpc-42', released: true },
        { pool: 'lo', owner: 'nobody', released: false },
      ],
    });
    expectError(await call(app, 'GET', '/v1/pools/vni/owners/vpc-42'), 'NOT_ALLOCATED');
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/tenant'), 200).used).toBe(0);
    // Still held: what the batch did not name.
    parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vlan/owners/vpc-42'), 200);
  });

  test('a bad release batch changes nothing: unknown pools per item, the same item twice, a bad owner', async () => {
    const unknown = expectError(await releases(app, [{ pool: 'vlan', owner: 'vpc-42' }, { pool: 'nope', owner: 'x' }]), 'POOL_NOT_FOUND');
    expect(unknown.details).toEqual([{ index: 1, code: 'POOL_NOT_FOUND', message: "no pool named 'nope'" }]);
    expect(unknown.message).toMatch(/nothing was released$/);
    expectError(await releases(app, [{ pool: 'vlan', owner: 'vpc-42' }, { pool: 'vlan', owner: 'vpc-42' }]), 'INVALID_ARGUMENT');
    const bad = expectError(await releases(app, [{ pool: 'vlan', owner: 'vpc-42' }, { pool: 'vlan', owner: '..' }]), 'INVALID_ARGUMENT');
    expect(bad.message).toMatch(/^item 1 of the batch: releases\[1\]\.owner: /);
    expectError(await releases(app, []), 'INVALID_ARGUMENT');
    parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vlan/owners/vpc-42'), 200);
  });
});
