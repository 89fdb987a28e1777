import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { applyPlan, type Plan, parseMaxPoolSize, planFile, type RegisteredPool } from '../../lib/plan.js';
import { type FlaggedRun, normalizeFlagged, runSize, subtract } from '../../lib/runs.js';
import { rangesJson } from '../../lib/shapes.js';

const OPTIONS = { maxPoolSize: 250_000 };

function plan(registered: RegisteredPool[], toml: string): Plan {
  const r = planFile(toml, registered, OPTIONS);
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.plan;
}

function apply(registered: RegisteredPool[], toml: string): RegisteredPool[] {
  return applyPlan(registered, plan(registered, toml));
}

function errors(registered: RegisteredPool[], toml: string) {
  const r = planFile(toml, registered, OPTIONS);
  if (r.ok) throw new Error('expected the file to be rejected');
  return r.errors;
}

const VNI = '[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 2024500, end = 2025500 }]';

describe('additive registration', () => {
  test('a new pool is created', () => {
    const p = plan([], VNI);
    expect(p.changes).toEqual([
      { name: 'vpc-vni', type: 'integer', action: 'created', added: [{ start: 2024500n, end: 2025500n, autoAssign: true }], addedCount: 1000n, size: 1000n, prefix: undefined },
    ]);
  });

  test("NICo's grow: extending end from 2025500 to 2026000 adds exactly 500", () => {
    const state = apply([], VNI);
    const p = plan(state, '[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 2024500, end = 2026000 }]');
    expect(p.changes[0]).toMatchObject({ action: 'grown', addedCount: 500n, size: 1500n });
    expect(p.changes[0].added).toEqual([{ start: 2025500n, end: 2026000n, autoAssign: true }]);
    expect(p.ignored).toEqual([]);
  });

  test('a new range grows a pool; the old range missing from the file is reported, not removed', () => {
    const state = apply([], VNI);
    const p = plan(state, '[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 2025500, end = 2026000 }]');
    expect(p.changes[0]).toMatchObject({ action: 'grown', addedCount: 500n, size: 1500n });
    expect(p.ignored).toEqual([
      { pool: 'vpc-vni', reason: '2024500-2025499 (1000 values) registered but not in this file; pools never shrink, the values stay' },
    ]);
    const after = applyPlan(state, p);
    expect(runSize(after[0].runs)).toBe(1500n);
  });

  test('a larger prefix grows the pool by exactly the new hosts', () => {
    const state = apply([], '[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"');
    const p = plan(state, '[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/25"');
    // /25 holds .1-.126; the /26 held .1-.62, so .63 (the old broadcast) to .126 are new.
    expect(p.changes[0]).toMatchObject({ action: 'grown', addedCount: 64n, size: 126n, prefix: '10.180.62.0/25' });
  });

  test('a smaller prefix is ignored with its reason', () => {
    const state = apply([], '[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"');
    const p = plan(state, '[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/27"');
    expect(p.changes[0]).toMatchObject({ action: 'unchanged', addedCount: 0n, size: 62n, prefix: '10.180.62.0/26' });
    expect(p.ignored).toEqual([{ pool: 'lo-ip', reason: 'prefix 10.180.62.0/27 is smaller than registered 10.180.62.0/26; pools never shrink' }]);
  });

  test('a registered prefix pool grows by ranges (both given)', () => {
    const state = apply([], '[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"');
    const p = plan(state, '[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"\nranges = [{ start = "10.180.70.1", end = "10.180.70.11" }]');
    expect(p.changes[0]).toMatchObject({ action: 'grown', addedCount: 10n, size: 72n });
    expect(p.ignored).toEqual([]);
  });

  test('a flipped auto_assign on registered values is ignored; new values take the file flag', () => {
    const state = apply([], '[pools.v]\ntype = "integer"\nranges = [{ start = 1, end = 10 }]');
    const p = plan(state, '[pools.v]\ntype = "integer"\nauto_assign = false\nranges = [{ start = 1, end = 20 }]');
    expect(p.changes[0].added).toEqual([{ start: 10n, end: 20n, autoAssign: false }]);
    expect(p.ignored).toEqual([
      { pool: 'v', reason: 'pools.v.ranges[0] sets auto_assign = false on 1-9 (9 values), registered with auto_assign = true; registered values never change' },
    ]);
    expect(rangesJson('integer', applyPlan(state, p)[0].runs)).toEqual([
      { start: 1, end: 10, auto_assign: true, size: 9 },
      { start: 10, end: 20, auto_assign: false, size: 10 },
    ]);
  });

  test('excluding a registered value is ignored; exclusions apply to what the file adds', () => {
    const state = apply([], '[pools.v]\ntype = "integer"\nranges = [{ start = 1, end = 10 }]');
    const p = plan(state, '[pools.v]\ntype = "integer"\nranges = [{ start = 1, end = 20 }]\nexclude = [5, 15]');
    expect(p.changes[0].added).toEqual([
      { start: 10n, end: 15n, autoAssign: true },
      { start: 16n, end: 20n, autoAssign: true },
    ]);
    expect(p.ignored).toEqual([{ pool: 'v', reason: 'pools.v.exclude[0] excludes 5, which is registered; registered values are never removed' }]);
  });

  test('a registered pool given neither prefix nor ranges is a no-op', () => {
    const state = apply([], VNI);
    const p = plan(state, '[pools.vpc-vni]\ntype = "integer"');
    expect(p.changes[0]).toMatchObject({ action: 'unchanged', addedCount: 0n, size: 1000n });
    expect(p.ignored).toEqual([]);
  });

  test('pools the file does not mention are left alone and not reported', () => {
    const state = apply([], `${VNI}\n[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"`);
    const p = plan(state, '[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"');
    expect(p.changes.map((c) => [c.name, c.action])).toEqual([['lo-ip', 'unchanged']]);
    expect(applyPlan(state, p)).toEqual(state);
  });

  test('the same file twice: the second time changes nothing', () => {
    const toml = '[pools.v]\ntype = "integer"\nranges = [{ start = 1, end = 10 }]\n[pools.w]\ntype = "ipv6"\nprefix = "2001:db8::/120"\nexclude = ["2001:db8::1"]';
    const once = apply([], toml);
    const again = plan(once, toml);
    expect(again.changes.map((c) => c.action)).toEqual(['unchanged', 'unchanged']);
    expect(applyPlan(once, again)).toEqual(once);
  });
});

describe('registration errors', () => {
  test('a type cannot change', () => {
    const state = apply([], VNI);
    expect(errors(state, '[pools.vpc-vni]\ntype = "ipv4"\nprefix = "10.0.0.0/24"')).toEqual([
      { path: 'pools.vpc-vni.type', message: "pool 'vpc-vni' is registered as integer; its type cannot change (got ipv4). Use a new pool name for ipv4 values" },
    ]);
  });

  test("a pool may not take another pool's registered values", () => {
    const state = apply([], VNI);
    expect(errors(state, '[pools.ext]\ntype = "integer"\nranges = [{ start = 2025000, end = 2025600 }]')).toEqual([
      { path: 'pools.ext.ranges[0]', message: "overlaps registered pool 'vpc-vni' (both would hold 2025000-2025499 (500 values)); pools of the same family must not share values" },
    ]);
  });

  test('MAX_POOL_SIZE applies to the total after growth', () => {
    const state = apply([], '[pools.v]\ntype = "integer"\nranges = [{ start = 0, end = 200000 }]');
    expect(errors(state, '[pools.v]\ntype = "integer"\nranges = [{ start = 200000, end = 250001 }]')).toEqual([
      { path: 'pools.v', message: expect.stringContaining('250,001 values, more than MAX_POOL_SIZE (250,000)') },
    ]);
    expect(planFile('[pools.v]\ntype = "integer"\nranges = [{ start = 200000, end = 250000 }]', state, OPTIONS).ok).toBe(true);
  });

  test('the size error formats numbers, names the setting the limit came from, and suggests raising it only up to 2^24', () => {
    const over = '[pools.v]\ntype = "integer"\nranges = [{ start = 0, end = 300000 }]';
    const flag = planFile(over, [], { maxPoolSize: 250_000, maxPoolSizeSetting: '--max-pool-size' });
    expect(!flag.ok && flag.errors).toEqual([
      {
        path: 'pools.v',
        message: "pool 'v' would hold 300,000 values, more than --max-pool-size (250,000); split it into several pools or raise --max-pool-size to 300,000 or more (at most 16,777,216)",
      },
    ]);
    const huge = planFile('[pools.v6]\ntype = "ipv6"\nprefix = "2001:db8::/64"', [], OPTIONS);
    expect(!huge.ok && huge.errors[0].message).toBe(
      "pool 'v6' would hold 18,446,744,073,709,551,615 values, more than MAX_POOL_SIZE (250,000); split it into several pools (MAX_POOL_SIZE can be raised to 16,777,216 at most, which is still too small)",
    );
  });

  test('MAX_POOL_SIZE is read with separators and refused outside 1-2^24, naming where it came from', () => {
    expect(parseMaxPoolSize('1_000_000')).toBe(1_000_000);
    expect(parseMaxPoolSize('16,777,216')).toBe(2 ** 24);
    expect(parseMaxPoolSize(undefined)).toBe(250_000);
    for (const bad of ['0', '16777217', '18446744073709551615', '1e5', 'lots', '-3']) {
      expect(() => parseMaxPoolSize(bad, '--max-pool-size')).toThrow(/^--max-pool-size must be a whole number from 1 to 16,777,216 \(the default is 250,000\); got "/);
    }
  });

  test('a file may create or grow any number of pools within the pool limit (the store applies it whole)', () => {
    const toml = Array.from({ length: 1000 }, (_, i) => `[pools.p${i}]\ntype = "integer"\nranges = [{ start = ${i * 10}, end = ${i * 10 + 5} }]`).join('\n');
    expect(planFile(toml, [], OPTIONS).ok).toBe(true);
    expect(errors([], `${toml}\n[pools.one-more]\ntype = "integer"\nranges = [{ start = 99999, end = 100000 }]`)).toEqual([
      { path: 'pools', message: expect.stringContaining('at most 1000 pools can be registered') },
    ]);
  });

  test('a pool is made of at most 256 separate ranges over its whole history', () => {
    const ranges = (from: number, n: number) =>
      `[pools.v]\ntype = "integer"\nranges = [${Array.from({ length: n }, (_, i) => `{ start = ${(from + i) * 10}, end = ${(from + i) * 10 + 5} }`).join(', ')}]`;
    const state = apply([], ranges(0, 200));
    expect(state[0].segments).toBe(200);
    expect(planFile(ranges(200, 56), state, OPTIONS).ok).toBe(true);
    expect(errors(state, ranges(200, 57))).toEqual([{ path: 'pools.v', message: expect.stringContaining('257 separate ranges, more than 256') }]);
  });

  test('at most 1,000 pools can be registered', () => {
    const pools = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => `[pools.p${from + i}]\ntype = "integer"\nranges = [{ start = ${(from + i) * 10}, end = ${(from + i) * 10 + 5} }]`).join('\n');
    let state: RegisteredPool[] = [];
    for (let from = 0; from < 990; from += 99) state = apply(state, pools(from, Math.min(99, 990 - from)));
    expect(state).toHaveLength(990);
    expect(planFile(pools(990, 10), state, OPTIONS).ok).toBe(true);
    expect(errors(state, pools(990, 11))).toEqual([{ path: 'pools', message: expect.stringContaining('at most 1000 pools can be registered; 990 are, and this file creates 11 more') }]);
  });
});

// Property tests over random files of integer pools: small ranges in a small space, so that overlaps,
// flips, growth and exclusions all happen often.
const rangeArb = fc
  .record({ start: fc.integer({ min: 0, max: 300 }), len: fc.integer({ min: 1, max: 40 }), auto: fc.option(fc.boolean(), { nil: undefined }) })
  .map(({ start, len, auto }) => ({ start, end: start + len, auto }));

const poolArb = fc.record({
  name: fc.constantFrom('a', 'b', 'c'),
  ranges: fc.array(rangeArb, { minLength: 1, maxLength: 3 }),
  exclude: fc.array(fc.integer({ min: 0, max: 340 }), { maxLength: 3 }),
});

const fileArb = fc.uniqueArray(poolArb, { selector: (p) => p.name, minLength: 1, maxLength: 3 }).map((pools) =>
  pools
    .map((p) => {
      const ranges = p.ranges.map((r) => `{ start = ${r.start}, end = ${r.end}${r.auto === undefined ? '' : `, auto_assign = ${r.auto}`} }`);
      return `[pools.${p.name}]\ntype = "integer"\nranges = [${ranges.join(', ')}]\nexclude = [${p.exclude.join(', ')}]`;
    })
    .join('\n'),
);

/** Builds a valid starting state by applying random files, skipping the ones that are rejected. */
const stateArb = fc.array(fileArb, { maxLength: 3 }).map((files) =>
  files.reduce<RegisteredPool[]>((state, toml) => {
    const r = planFile(toml, state, OPTIONS);
    return r.ok ? applyPlan(state, r.plan) : state;
  }, []),
);

function sorted(state: RegisteredPool[]): RegisteredPool[] {
  return [...state].sort((x, y) => x.name.localeCompare(y.name)).map((p) => ({ ...p, runs: normalizeFlagged(p.runs) }));
}

describe('registration properties', () => {
  propTest.prop([stateArb, fileArb], { numRuns: 300 })('applying a valid file twice equals applying it once', (state, toml) => {
    const first = planFile(toml, state, OPTIONS);
    fc.pre(first.ok);
    if (!first.ok) return;
    const once = applyPlan(state, first.plan);
    const second = planFile(toml, once, OPTIONS);
    expect(second.ok).toBe(true);
    if (!second.ok) return;
    expect(second.plan.changes.every((c) => c.action === 'unchanged' && c.addedCount === 0n)).toBe(true);
    expect(sorted(applyPlan(once, second.plan))).toEqual(sorted(once));
  });

  propTest.prop([stateArb, fileArb], { numRuns: 300 })('planning never removes or changes a registered value', (state, toml) => {
    const r = planFile(toml, state, OPTIONS);
    if (!r.ok) return;
    const after = applyPlan(state, r.plan);
    for (const before of state) {
      const now = after.find((p) => p.name === before.name);
      expect(now).toBeDefined();
      if (!now) continue;
      // Every registered value is still there with the same auto_assign.
      for (const flag of [true, false]) {
        const was = before.runs.filter((x) => x.autoAssign === flag);
        const is = now.runs.filter((x) => x.autoAssign === flag);
        expect(subtract(was, is)).toEqual([]);
      }
      for (const c of r.plan.changes.filter((x) => x.name === before.name)) {
        expect(runSize(now.runs)).toBe(runSize(before.runs) + c.addedCount);
      }
    }
  });

  propTest.prop([stateArb, fileArb, fileArb], { numRuns: 300 })('two non-conflicting files give the same pools in either order', (state, f1, f2) => {
    const ab1 = planFile(f1, state, OPTIONS);
    fc.pre(ab1.ok);
    if (!ab1.ok) return;
    const ab2 = planFile(f2, applyPlan(state, ab1.plan), OPTIONS);
    const ba1 = planFile(f2, state, OPTIONS);
    fc.pre(ab2.ok && ba1.ok);
    if (!ab2.ok || !ba1.ok) return;
    const ba2 = planFile(f1, applyPlan(state, ba1.plan), OPTIONS);
    fc.pre(ba2.ok);
    if (!ba2.ok) return;
    // Files conflict when they give the same new value different auto_assign flags: then the first wins.
    const added = (p: Plan) => p.changes.flatMap((c) => c.added.map((r): FlaggedRun & { pool: string } => ({ ...r, pool: c.name })));
    const a = added(ab1.plan);
    const b = added(ba1.plan);
    const conflicting = a.some((x) => b.some((y) => x.pool === y.pool && x.autoAssign !== y.autoAssign && x.start < y.end && y.start < x.end));
    fc.pre(!conflicting);
    const ab = applyPlan(applyPlan(state, ab1.plan), ab2.plan);
    const ba = applyPlan(applyPlan(state, ba1.plan), ba2.plan);
    expect(sorted(ab).map(({ name, type, runs }) => ({ name, type, runs }))).toEqual(sorted(ba).map(({ name, type, runs }) => ({ name, type, runs })));
  });
});
