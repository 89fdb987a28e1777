/**
 * Scopes and allocation orders in pool files and registration planning: a scope is a namespace of
 * its family fixed at creation, overlap is judged per family and scope, and an allocation order may be
 * changed by a later file without changing any value.
 */
import { describe, expect, test } from 'vitest';
import { type ConfigIssue, parsePoolsFile } from '../../lib/config.js';
import { applyPlan, type Plan, planFile, type RegisteredPool } from '../../lib/plan.js';
import { poolJson } from '../../lib/shapes.js';

const OPTIONS = { maxPoolSize: 250_000 };

function vlans(name: string, extra: string, start = 100, end = 200): string {
  return `[pools.${name}]\ntype = "integer"\nkind = "vlan"\n${extra}ranges = [{ start = ${start}, end = ${end} }]\n`;
}

function planned(registered: RegisteredPool[], toml: string): Plan {
  const r = planFile(toml, registered, OPTIONS);
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.plan;
}

function errorsOf(toml: string, registered: RegisteredPool[] = []): ConfigIssue[] {
  const r = planFile(toml, registered, OPTIONS);
  if (r.ok) throw new Error('expected the file to be rejected');
  return r.errors;
}

function apply(registered: RegisteredPool[], toml: string): RegisteredPool[] {
  return applyPlan(registered, planned(registered, toml));
}

describe('scope in a pool file', () => {
  test('a scope is kept on the pool it is given to, and left out it is the default', () => {
    const r = parsePoolsFile(vlans('a', 'scope = "fabric-a"\n') + vlans('b', '', 300, 400));
    expect(r.errors).toEqual([]);
    expect(r.pools.map((p) => [p.name, p.scope])).toEqual([
      ['a', 'fabric-a'],
      ['b', undefined],
    ]);
  });

  test.each([
    ['a name with a space', '"fabric a"', 'the string "fabric a"'],
    ['an empty name', '""', 'the string ""'],
    ['a name starting with a dash', '"-a"', 'the string "-a"'],
    ['a name of 65 characters', `"${'s'.repeat(65)}"`, `the string "${'s'.repeat(65)}"`],
    ['a number', '7', 'number 7'],
    ['a table', '{ name = "a" }', 'a table'],
  ])('%s is refused at pools.<name>.scope, saying what is accepted', (_what, value, got) => {
    expect(errorsOf(vlans('a', `scope = ${value}\n`))).toEqual([
      {
        path: 'pools.a.scope',
        message: `must be a scope name, 1-64 characters of A-Za-z0-9._-, starting with a letter or digit (e.g. "fabric-a"), or left out for the family's default scope; got ${got}`,
      },
    ]);
  });

  test('every kind of pool takes a scope', () => {
    const toml = [
      '[pools.v4]\ntype = "ipv4"\nscope = "vrf-blue"\nprefix = "10.0.0.0/24"',
      '[pools.v6]\ntype = "ipv6"\nscope = "vrf-blue"\nprefix = "2001:db8::/120"',
      '[pools.p6]\ntype = "ipv6-prefix"\nscope = "vrf-red"\nprefix = "2001:db8:100::/56"\ndelegate_prefix_len = 64',
    ].join('\n');
    expect(planned([], toml).changes.map((c) => [c.name, c.scope])).toEqual([
      ['v4', 'vrf-blue'],
      ['v6', 'vrf-blue'],
      ['p6', 'vrf-red'],
    ]);
  });
});

describe('overlap is judged per family and scope', () => {
  test('two fabrics may each have VLANs 100-199', () => {
    const p = planned([], vlans('fabric-a-vlans', 'scope = "fabric-a"\n') + vlans('fabric-b-vlans', 'scope = "fabric-b"\n'));
    expect(p.changes.map((c) => [c.name, c.action, Number(c.size)])).toEqual([
      ['fabric-a-vlans', 'created', 100],
      ['fabric-b-vlans', 'created', 100],
    ]);
  });

  test('a scoped pool may share values with a pool of the default scope', () => {
    expect(planned([], vlans('a', 'scope = "fabric-a"\n') + vlans('b', '')).changes).toHaveLength(2);
  });

  test('two pools of one scope in one file overlap: the error names both pools and the scope', () => {
    expect(errorsOf(vlans('a', 'scope = "fabric-a"\n') + vlans('b', 'scope = "fabric-a"\n', 150, 250))).toEqual([
      { path: 'pools.b.ranges[0]', message: "overlaps pool 'a' (both hold 150-199 (50 values)); pools of the same family and scope ('fabric-a') must not share values" },
    ]);
  });

  test('two pools without a scope in one file overlap as before', () => {
    expect(errorsOf(vlans('a', '') + vlans('b', ''))).toEqual([
      { path: 'pools.b.ranges[0]', message: "overlaps pool 'a' (both hold 100-199 (100 values)); pools of the same family must not share values" },
    ]);
  });

  test('a second VRF may reuse 10.0.0.0/16, a second pool in the same VRF may not', () => {
    const blue = '[pools.blue]\ntype = "ipv4"\nscope = "vrf-blue"\nprefix = "10.0.0.0/16"\n';
    expect(planned([], `${blue}[pools.red]\ntype = "ipv4"\nscope = "vrf-red"\nprefix = "10.0.0.0/16"\n[pools.plain]\ntype = "ipv4"\nprefix = "10.0.0.0/16"\n`).changes).toHaveLength(3);
    expect(errorsOf(`${blue}[pools.blue2]\ntype = "ipv4"\nscope = "vrf-blue"\nprefix = "10.0.1.0/24"\n`)).toEqual([
      { path: 'pools.blue2.prefix', message: expect.stringContaining("overlaps pool 'blue'") },
    ]);
  });

  test('against registered pools: another scope registers, the same scope is an error naming both pools', () => {
    const state = apply([], vlans('a', 'scope = "fabric-a"\n'));
    expect(planned(state, vlans('b', 'scope = "fabric-b"\n')).changes.map((c) => c.action)).toEqual(['created']);
    expect(planned(state, vlans('c', '')).changes.map((c) => c.action)).toEqual(['created']);
    expect(errorsOf(vlans('b', 'scope = "fabric-a"\n', 190, 300), state)).toEqual([
      { path: 'pools.b.ranges[0]', message: "overlaps registered pool 'a' (both would hold 190-199 (10 values)); pools of the same family and scope ('fabric-a') must not share values" },
    ]);
  });

  test('against registered pools of the default scope', () => {
    const state = apply([], vlans('a', ''));
    expect(errorsOf(vlans('b', ''), state)).toEqual([
      { path: 'pools.b.ranges[0]', message: "overlaps registered pool 'a' (both would hold 100-199 (100 values)); pools of the same family must not share values" },
    ]);
    expect(planned(state, vlans('b', 'scope = "fabric-b"\n')).changes.map((c) => c.action)).toEqual(['created']);
  });

  test("a file growing a scoped pool without naming its scope is judged in the pool's registered scope", () => {
    const state = apply([], vlans('a', 'scope = "fabric-a"\n') + vlans('b', 'scope = "fabric-b"\n', 300, 400));
    // b grows over a's values: allowed, b is in another scope...
    expect(planned(state, vlans('b', '', 100, 400)).changes.map((c) => [c.name, c.action, Number(c.addedCount)])).toEqual([['b', 'grown', 200]]);
    // ...and a grows into values b holds only in fabric-b, in the same file as b.
    const grown = apply(state, vlans('a', '', 100, 400) + vlans('b', '', 100, 400));
    expect(grown.map((p) => [p.name, p.scope, Number(p.runs[0].end - p.runs[0].start)])).toEqual([
      ['a', 'fabric-a', 300],
      ['b', 'fabric-b', 300],
    ]);
  });
});

describe('scope is fixed at creation', () => {
  const state = apply([], vlans('a', 'scope = "fabric-a"\n') + vlans('plain', '', 500, 600));

  test('giving another scope is an error naming pools.<name>.scope and both scopes', () => {
    expect(errorsOf(vlans('a', 'scope = "fabric-b"\n'), state)).toEqual([
      {
        path: 'pools.a.scope',
        message: `pool 'a' is registered in scope "fabric-a"; its scope cannot change (got "fabric-b"): leave it out or write "fabric-a", or use a new pool name`,
      },
    ]);
  });

  test('giving a scope to a pool registered without one is an error', () => {
    expect(errorsOf(vlans('plain', 'scope = "fabric-a"\n', 500, 600), state)).toEqual([
      {
        path: 'pools.plain.scope',
        message: `pool 'plain' is registered in its family's default scope; its scope cannot change (got "fabric-a"): leave scope out, or use a new pool name`,
      },
    ]);
  });

  test('repeating the scope, or leaving it out, changes nothing', () => {
    for (const extra of ['scope = "fabric-a"\n', '']) {
      const p = planned(state, vlans('a', extra));
      expect(p.changes.map((c) => [c.name, c.action, c.scope])).toEqual([['a', 'unchanged', 'fabric-a']]);
      expect(applyPlan(state, p)).toEqual(state);
    }
  });
});

describe('allocation_order', () => {
  test('"random" and "lowest" are accepted; left out, a new pool has none (random)', () => {
    const p = planned([], vlans('a', 'allocation_order = "lowest"\n') + vlans('b', 'allocation_order = "random"\n', 300, 400) + vlans('c', '', 500, 600));
    expect(p.changes.map((c) => [c.name, c.order])).toEqual([
      ['a', 'lowest'],
      ['b', 'random'],
      ['c', undefined],
    ]);
  });

  test.each([
    ['"first"', 'the string "first"'],
    ['"Lowest"', 'the string "Lowest"'],
    ['true', 'boolean true'],
  ])('%s is refused at pools.<name>.allocation_order, naming the accepted values', (value, got) => {
    expect(errorsOf(vlans('a', `allocation_order = ${value}\n`))).toEqual([
      { path: 'pools.a.allocation_order', message: `must be "random" or "lowest" (the lowest free value first), or left out; got ${got}` },
    ]);
  });

  test('a later file may change it: the pool is unchanged (no value added) but its order is set, once', () => {
    const state = apply([], vlans('a', ''));
    const change = planned(state, vlans('a', 'allocation_order = "lowest"\n')).changes;
    expect(change).toEqual([expect.objectContaining({ name: 'a', action: 'unchanged', addedCount: 0n, order: 'lowest', reorder: true })]);
    const after = apply(state, vlans('a', 'allocation_order = "lowest"\n'));
    expect(after[0]).toEqual({ ...state[0], order: 'lowest' });
    // The same file again changes nothing.
    const again = planned(after, vlans('a', 'allocation_order = "lowest"\n')).changes;
    expect(again).toEqual([expect.objectContaining({ name: 'a', action: 'unchanged', addedCount: 0n })]);
    expect(again[0].reorder).toBeUndefined();
    expect(applyPlan(after, planned(after, vlans('a', 'allocation_order = "lowest"\n')))).toEqual(after);
  });

  test('leaving it out of a later file keeps the registered order, also when the file grows the pool', () => {
    const state = apply([], vlans('a', 'allocation_order = "lowest"\n'));
    const grown = planned(state, vlans('a', '', 100, 300)).changes;
    expect(grown).toEqual([expect.objectContaining({ action: 'grown', addedCount: 100n })]);
    expect(grown[0].reorder).toBeUndefined();
    expect(apply(state, vlans('a', '', 100, 300))[0].order).toBe('lowest');
  });

  test('a file that grows a pool and changes its order does both', () => {
    const state = apply([], vlans('a', 'allocation_order = "lowest"\n'));
    const p = planned(state, vlans('a', 'allocation_order = "random"\n', 100, 300));
    expect(p.changes).toEqual([expect.objectContaining({ action: 'grown', addedCount: 100n, order: 'random', reorder: true })]);
    expect(applyPlan(state, p)[0].order).toBe('random');
  });

  test('"random" for a pool registered without an order is no change', () => {
    const state = apply([], vlans('a', ''));
    expect(planned(state, vlans('a', 'allocation_order = "random"\n')).changes[0].reorder).toBeUndefined();
  });
});

describe('the Pool shape', () => {
  const counts = { name: 'a', type: 'integer' as const, size: 1, used: 0, autoAssignSize: 1, autoAssignUsed: 0, runs: [], maxBlockSize: 1, disabled: false, createdAt: '', updatedAt: '' };

  test('shows scope (null for the default) and allocation_order (random when none is registered)', () => {
    expect(poolJson(counts)).toMatchObject({ scope: null, allocation_order: 'random' });
    expect(poolJson({ ...counts, scope: 'fabric-a', order: 'lowest' })).toMatchObject({ scope: 'fabric-a', allocation_order: 'lowest' });
  });
});
