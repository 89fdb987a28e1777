/**
 * Integer kinds (vlan, vni, asn): their bounds in config validation and in registration planning,
 * and that a kind is fixed at creation.
 */
import { describe, expect, test } from 'vitest';
import { KIND_BOUNDS } from '../../lib/kinds.js';
import { applyPlan, DEFAULT_MAX_POOL_SIZE, planFile, type RegisteredPool } from '../../lib/plan.js';
import { poolJson } from '../../lib/shapes.js';

const OPTIONS = { maxPoolSize: 2 ** 24 };

function pool(kind: string | undefined, ranges: string): string {
  return `[pools.p]\ntype = "integer"\n${kind === undefined ? '' : `kind = ${JSON.stringify(kind)}\n`}ranges = [${ranges}]\n`;
}

function errorsOf(toml: string, registered: RegisteredPool[] = []) {
  const r = planFile(toml, registered, OPTIONS);
  if (r.ok) throw new Error('expected the file to be rejected');
  return r.errors;
}

function registered(toml: string): RegisteredPool[] {
  const r = planFile(toml, [], OPTIONS);
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return applyPlan([], r.plan);
}

describe('integer kinds in a pool file', () => {
  test.each([
    ['vlan', '{ start = 1, end = 4095 }', 4094],
    ['vni', '{ start = 1, end = 16777216 }', 16_777_215],
    ['asn', '{ start = 4200000000, end = 4200001000 }', 1000],
    ['asn', '{ start = 4294967000, end = 4294967296 }', 296],
  ])('kind %s accepts %s', (kind, ranges, size) => {
    const r = planFile(pool(kind, ranges), [], OPTIONS);
    expect(r.ok && r.plan.changes.map((c) => [c.kind, Number(c.size)])).toEqual([[kind, size]]);
  });

  test.each([
    ['vlan', '{ start = 1, end = 5001 }', 'pools.p.ranges[0].end', /5,001 reaches past the highest vlan value 4,094: .*takes values 1-4,094, so end \(exclusive\) is at most 4,095/],
    ['vlan', '{ start = 0, end = 10 }', 'pools.p.ranges[0].start', /0 is below the lowest vlan value 1: kind "vlan" \(VLAN IDs \(802\.1Q\)\) takes values 1-4,094/],
    ['vni', '{ start = 16777000, end = 16777217 }', 'pools.p.ranges[0].end', /highest vni value 16,777,215.*at most 16,777,216/],
    ['asn', '{ start = 4294967000, end = 4294967297 }', 'pools.p.ranges[0].end', /highest asn value 4,294,967,295/],
  ])('kind %s refuses %s at its bound', (kind, ranges, path, message) => {
    expect(errorsOf(pool(kind, ranges))).toEqual([{ path, message: expect.stringMatching(message) }]);
  });

  test('a range crossing both bounds gets an error at each end', () => {
    expect(errorsOf(pool('vlan', '{ start = 0, end = 4096 }')).map((e) => e.path)).toEqual(['pools.p.ranges[0].start', 'pools.p.ranges[0].end']);
  });

  test('an unknown kind names the accepted ones and their bounds', () => {
    expect(errorsOf(pool('vxlan', '{ start = 1, end = 10 }'))).toEqual([
      { path: 'pools.p.kind', message: expect.stringMatching(/must be one of "vlan" \(values 1-4,094\), "vni" \(values 1-16,777,215\), "asn" \(values 1-4,294,967,295\).*got the string "vxlan"/) },
    ]);
    expect(errorsOf(pool(undefined, '{ start = 1, end = 10 }').replace('ranges', 'kind = 7\nranges'))[0]).toMatchObject({ path: 'pools.p.kind' });
  });

  test('only integer pools take a kind', () => {
    expect(errorsOf('[pools.v4]\ntype = "ipv4"\nkind = "vlan"\nprefix = "10.0.0.0/24"')).toEqual([
      { path: 'pools.v4.kind', message: expect.stringContaining('only integer pools take a kind') },
    ]);
  });

  test('without a kind an integer pool takes any value 0 <= v < 2^53, as before', () => {
    expect(planFile(pool(undefined, '{ start = 0, end = 5000 }'), [], { maxPoolSize: DEFAULT_MAX_POOL_SIZE }).ok).toBe(true);
  });

  test('the bounds are the documented ones', () => {
    expect(KIND_BOUNDS.vlan).toMatchObject({ min: 1n, max: 4094n });
    expect(KIND_BOUNDS.vni).toMatchObject({ min: 1n, max: 2n ** 24n - 1n });
    expect(KIND_BOUNDS.asn).toMatchObject({ min: 1n, max: 2n ** 32n - 1n });
  });
});

describe('integer kinds in registration', () => {
  const VLAN = pool('vlan', '{ start = 100, end = 200 }');

  test('the kind is registered with the pool and shown in the Pool', () => {
    const [p] = registered(VLAN);
    expect(p.kind).toBe('vlan');
    const counts = { name: 'p', type: p.type, kind: p.kind, size: 100, used: 0, autoAssignSize: 100, autoAssignUsed: 0, runs: p.runs, maxBlockSize: 64, disabled: false, createdAt: 'x', updatedAt: 'x' };
    expect(poolJson(counts).kind).toBe('vlan');
    expect(poolJson({ ...counts, kind: undefined }).kind).toBeNull();
  });

  test('a file growing the pool may leave kind out, and the registered bounds still hold', () => {
    const state = registered(VLAN);
    const grow = planFile(pool(undefined, '{ start = 100, end = 300 }'), state, OPTIONS);
    expect(grow.ok && grow.plan.changes[0]).toMatchObject({ action: 'grown', kind: 'vlan', addedCount: 100n });
    expect(errorsOf(pool(undefined, '{ start = 100, end = 5000 }'), state)).toEqual([
      { path: 'pools.p.ranges[0].end', message: expect.stringContaining('highest vlan value 4,094') },
    ]);
  });

  test('a kind cannot change, be added to a pool registered without one, or be dropped by naming another', () => {
    const state = registered(VLAN);
    expect(errorsOf(pool('vni', '{ start = 100, end = 200 }'), state)).toEqual([
      { path: 'pools.p.kind', message: expect.stringMatching(/registered with kind "vlan"; its kind cannot change \(got "vni"\)/) },
    ]);
    const plain = registered(pool(undefined, '{ start = 100, end = 200 }'));
    expect(errorsOf(VLAN, plain)).toEqual([{ path: 'pools.p.kind', message: expect.stringMatching(/registered without a kind; its kind cannot change/) }]);
    const same = planFile(VLAN, state, OPTIONS);
    expect(same.ok && same.plan.changes[0].action).toBe('unchanged');
  });

  test('kinds do not make separate spaces: a vlan pool and a plain pool still must not overlap', () => {
    const state = registered(VLAN);
    const other = '[pools.q]\ntype = "integer"\nranges = [{ start = 150, end = 160 }]';
    expect(errorsOf(other, state)[0].message).toContain("overlaps registered pool 'p'");
  });
});
