/**
 * Files up to 1 MiB are checked in one pass per check (issue 13): the shapes of bench/plan-shapes.ts
 * plan to what they should, with their time printed (never asserted), and the sweeps that replaced the
 * pairwise overlap, registered-overlap and shrink checks report exactly what those reported.
 */
import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { planShapes } from '../../bench/plan-shapes.js';
import { type ConfigIssue, describeRun, MAX_OVERLAP_ISSUES, type PoolSpec, parsePoolsFile } from '../../lib/config.js';
import { applyPlan, DEFAULT_MAX_POOL_SIZE, MAX_POOLS, MAX_REASONS_PER_POOL, MAX_SEGMENTS_PER_POOL, planFile, type RegisteredPool } from '../../lib/plan.js';
import { type FlaggedRun, intersect, normalize, normalizeFlagged, type Run, runSize, subtract } from '../../lib/runs.js';

const OPTIONS = { maxPoolSize: DEFAULT_MAX_POOL_SIZE };

describe('files of up to 1 MiB', () => {
  const shapes = new Map(planShapes().map((s) => [s.name, s]));

  function check(name: string) {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`no shape ${name}`);
    const t0 = performance.now();
    const result = planFile(shape.text, shape.registered, OPTIONS);
    const ms = Math.round(performance.now() - t0);
    // Reported, not asserted: the machine decides the time; `npm run bench:plan` takes the median of several runs.
    console.info(JSON.stringify({ bench: 'plan', shape: name, bytes: Buffer.byteLength(shape.text), pools: shape.pools, ms }));
    const errors = result.ok ? [] : result.errors;
    return { shape, result, errors };
  }

  test('1,000 new pools with as many ranges as fit: valid', () => {
    const { shape, errors } = check('pools-1000-new');
    expect(Buffer.byteLength(shape.text)).toBeGreaterThan(0.95 * 1024 * 1024);
    expect(errors).toEqual([]);
  });

  test('the same file against those pools registered with every other range: every pool grows, nothing else', () => {
    const { result, errors } = check('pools-1000-grow');
    expect(errors).toEqual([]);
    // Once a file may change every pool it holds (the transaction limit is on its way out), the plan shows it.
    if (result.ok) expect(result.plan.changes.every((c) => c.action === 'grown' && c.addedCount > 0n)).toBe(true);
  });

  test('10,000 pools: rejected for the pool limit alone', () => {
    const { errors } = check('pools-10000');
    expect(errors).toEqual([{ path: 'pools', message: `at most ${MAX_POOLS} pools can be registered; 0 are, and this file creates 10000 more` }]);
  });

  test('one pool of thousands of ranges and exclusions: rejected for its segments alone', () => {
    const { errors } = check('one-pool-ranges-excludes');
    expect(errors).toEqual([{ path: 'pools.one', message: expect.stringContaining(`more than ${MAX_SEGMENTS_PER_POOL}; use fewer, larger ranges`) }]);
  });

  test('1,000 pools holding the same values: the first overlaps in file order, then one issue for the rest', () => {
    const { errors } = check('pools-1000-same-range');
    expect(errors).toHaveLength(MAX_OVERLAP_ISSUES + 1);
    expect(errors.slice(0, 3)).toEqual([
      { path: 'pools.pool-00001.ranges[0]', message: "overlaps pool 'pool-00000' (both hold 100-199 (100 values)); pools of the same family must not share values" },
      { path: 'pools.pool-00002.ranges[0]', message: "overlaps pool 'pool-00000' (both hold 100-199 (100 values)); pools of the same family must not share values" },
      { path: 'pools.pool-00002.ranges[0]', message: "overlaps pool 'pool-00001' (both hold 100-199 (100 values)); pools of the same family must not share values" },
    ]);
    expect(errors[MAX_OVERLAP_ISSUES]).toEqual({
      path: '(more)',
      message: `more than ${MAX_OVERLAP_ISSUES} overlaps between pools of this file; ${MAX_OVERLAP_ISSUES} are listed: fix them and check the file again for the rest`,
    });
  });

  test('exclusions covering a registered pool again and again: ignored, with a bounded list of reasons', () => {
    const { shape, result } = check('excludes-over-registered');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const entries = parsePoolsFile(shape.text).pools[0].excluded.length;
    expect(result.plan.changes).toMatchObject([{ name: 'held', action: 'unchanged', addedCount: 0n }]);
    expect(result.plan.ignored).toHaveLength(MAX_REASONS_PER_POOL + 1);
    expect(result.plan.ignored[0]).toEqual({ pool: 'held', reason: 'pools.held.exclude[0] excludes 0-3 (4 values), which is registered; registered values are never removed' });
    expect(result.plan.ignored[MAX_REASONS_PER_POOL]).toEqual({
      pool: 'held',
      reason: `and ${entries * MAX_SEGMENTS_PER_POOL - MAX_REASONS_PER_POOL} more like these, not listed (at most ${MAX_REASONS_PER_POOL} per pool)`,
    });
  });

  test('overlaps with registered pools are bounded too', () => {
    const registered: RegisteredPool[] = [{ name: 'held', type: 'integer', runs: [{ start: 0n, end: 100_000n, autoAssign: true }] }];
    const toml = Array.from({ length: 11 }, (_, i) => {
      const ranges = Array.from({ length: 100 }, (_, r) => `{ start = ${(i * 100 + r) * 10}, end = ${(i * 100 + r) * 10 + 5} }`);
      return `[pools.p${i}]\ntype = "integer"\nranges = [${ranges.join(', ')}]`;
    }).join('\n');
    const r = planFile(toml, registered, OPTIONS);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const overlaps = r.errors.filter((e) => e.message.includes('overlaps registered pool'));
    expect(overlaps).toHaveLength(MAX_OVERLAP_ISSUES);
    expect(overlaps[0]).toEqual({ path: 'pools.p0.ranges[0]', message: "overlaps registered pool 'held' (both would hold 0-4 (5 values)); pools of the same family must not share values" });
    expect(r.errors).toContainEqual({
      path: '(more)',
      message: `more than ${MAX_OVERLAP_ISSUES} overlaps with registered pools; ${MAX_OVERLAP_ISSUES} are listed: fix them and check the file again for the rest`,
    });
  });
});

// The checks as they were, one pair of pools (or runs) at a time: what the sweeps must reproduce.
const pairwise = {
  crossPool(specs: readonly PoolSpec[]): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    specs.forEach((b, j) => {
      for (const a of specs.slice(0, j)) {
        if (a.type !== b.type) continue;
        for (const part of b.parts) {
          const hit = normalize(a.parts).find((r) => r.start < part.end && part.start < r.end);
          if (hit) {
            const shared = { start: hit.start > part.start ? hit.start : part.start, end: hit.end < part.end ? hit.end : part.end };
            issues.push({ path: part.path, message: `overlaps pool '${a.name}' (both hold ${describeRun(b.type, shared)}); pools of the same family must not share values` });
          }
        }
      }
    });
    return issues;
  },

  registered(spec: PoolSpec, added: readonly FlaggedRun[], registered: readonly RegisteredPool[]): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    if (added.length === 0) return issues;
    for (const other of registered) {
      if (other.name === spec.name || other.type !== spec.type) continue;
      for (const part of spec.parts) {
        const shared = intersect(intersect([part], added), other.runs);
        if (shared.length > 0) {
          issues.push({
            path: part.path,
            message: `overlaps registered pool '${other.name}' (both would hold ${describeRun(spec.type, shared[0])}); pools of the same family must not share values`,
          });
        }
      }
    }
    return issues;
  },

  /** The flips, what the file leaves out and the exclusions of registered values (files here give no prefix). */
  shrinks(existing: RegisteredPool, spec: PoolSpec): string[] {
    const type = spec.type;
    const reasons: string[] = [];
    for (const r of existing.runs) {
      for (const part of spec.parts) {
        if (part.autoAssign === r.autoAssign) continue;
        for (const shared of intersect([r], [part])) {
          reasons.push(`${part.path} sets auto_assign = ${part.autoAssign} on ${describeRun(type, shared)}, registered with auto_assign = ${r.autoAssign}; registered values never change`);
        }
      }
    }
    for (const run of normalize(subtract(existing.runs, [...spec.parts, ...spec.excluded]))) {
      reasons.push(`${describeRun(type, run)} registered but not in this file; pools never shrink, the values stay`);
    }
    for (const ex of spec.excluded) {
      for (const r of existing.runs) {
        for (const run of intersect([r], [ex])) reasons.push(`${ex.path} excludes ${describeRun(type, run)}, which is registered; registered values are never removed`);
      }
    }
    return reasons;
  },
};

/** What the planner adds for a spec, as it decides it (undefined: it plans nothing for the spec). */
function addedBy(spec: PoolSpec, existing: RegisteredPool | undefined): FlaggedRun[] | undefined {
  const flagged = (runs: readonly FlaggedRun[]) => normalizeFlagged(runs.map(({ start, end, autoAssign }) => ({ start, end, autoAssign })));
  if (!existing) {
    if ((spec.prefix !== undefined) === spec.hasRanges) return undefined;
    const added = flagged(spec.parts);
    return runSize(added) === 0n ? undefined : added;
  }
  if (existing.type !== spec.type) return undefined;
  if (spec.prefix === undefined && !spec.hasRanges) return [];
  return flagged(subtract(spec.parts, existing.runs));
}

// Random files of integer and IPv4 pools in small spaces, so that overlaps inside a family, touching
// ranges, exclusions that split ranges and flipped flags all happen often, and families never mix.
const valueText = (type: 'integer' | 'ipv4', v: number) => (type === 'integer' ? String(v) : `"10.0.${v >> 8}.${v & 255}"`);
const rangeArb = fc
  .record({ start: fc.integer({ min: 0, max: 300 }), len: fc.integer({ min: 1, max: 40 }), auto: fc.option(fc.boolean(), { nil: undefined }) })
  .map(({ start, len, auto }) => ({ start, end: start + len, auto }));
const excludeArb = fc.oneof(
  fc.integer({ min: 0, max: 340 }).map((v) => ({ start: v, end: v + 1 })),
  fc.record({ start: fc.integer({ min: 0, max: 320 }), len: fc.integer({ min: 1, max: 30 }) }).map(({ start, len }) => ({ start, end: start + len })),
);
const poolArb = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
  type: fc.constantFrom('integer' as const, 'ipv4' as const),
  ranges: fc.array(rangeArb, { minLength: 1, maxLength: 4 }),
  exclude: fc.array(excludeArb, { maxLength: 3 }),
});
const fileArb = fc.uniqueArray(poolArb, { selector: (p) => p.name, minLength: 1, maxLength: 6 }).map((pools) =>
  pools
    .map((p) => {
      const ranges = p.ranges.map((r) => `{ start = ${valueText(p.type, r.start)}, end = ${valueText(p.type, r.end)}${r.auto === undefined ? '' : `, auto_assign = ${r.auto}`} }`);
      const exclude = p.exclude.map((e) => (e.end === e.start + 1 ? valueText(p.type, e.start) : `{ start = ${valueText(p.type, e.start)}, end = ${valueText(p.type, e.end)} }`));
      return `[pools.${p.name}]\ntype = "${p.type}"\nranges = [${ranges.join(', ')}]\nexclude = [${exclude.join(', ')}]`;
    })
    .join('\n'),
);
const stateArb = fc.array(fileArb, { maxLength: 4 }).map((files) =>
  files.reduce<RegisteredPool[]>((state, toml) => {
    const r = planFile(toml, state, OPTIONS);
    return r.ok ? applyPlan(state, r.plan) : state;
  }, []),
);

const isCrossPool = (e: ConfigIssue) => e.message.includes("overlaps pool '");
const isRegisteredOverlap = (e: ConfigIssue) => e.message.includes("overlaps registered pool '");

describe('the sweeps report what the pairwise checks reported', () => {
  propTest.prop([fileArb], { numRuns: 500 })('overlaps between pools of a file', (toml) => {
    const parsed = parsePoolsFile(toml);
    expect(parsed.errors.filter(isCrossPool)).toEqual(pairwise.crossPool(parsed.pools));
  });

  propTest.prop([stateArb, fileArb], { numRuns: 500 })('overlaps with registered pools, and the reasons for what is ignored', (state, toml) => {
    const parsed = parsePoolsFile(toml);
    const byName = new Map(state.map((p) => [p.name, p]));
    const expected = parsed.pools.flatMap((spec) => {
      const added = addedBy(spec, byName.get(spec.name));
      return added ? pairwise.registered(spec, added, state) : [];
    });
    const r = planFile(toml, state, OPTIONS);
    expect(r.ok ? [] : r.errors.filter(isRegisteredOverlap)).toEqual(expected);
    if (!r.ok) return;
    const reasons = parsed.pools.flatMap((spec) => {
      const existing = byName.get(spec.name);
      if (!existing || existing.type !== spec.type) return [];
      return pairwise.shrinks(existing, spec).map((reason) => ({ pool: spec.name, reason }));
    });
    expect(r.plan.ignored).toEqual(reasons);
  });

  test('a part that overlaps several earlier pools, and several runs of one: once per part and pool, with the first values shared', () => {
    const toml = [
      '[pools.a]\ntype = "integer"\nranges = [{ start = 10, end = 20 }, { start = 20, end = 30 }, { start = 40, end = 50 }]',
      '[pools.b]\ntype = "integer"\nranges = [{ start = 60, end = 70 }]',
      '[pools.v4]\ntype = "ipv4"\nranges = [{ start = "0.0.0.0", end = "0.0.0.100" }]',
      '[pools.c]\ntype = "integer"\nranges = [{ start = 0, end = 100 }, { start = 100, end = 101 }]\nexclude = [15, { start = 45, end = 65 }]',
    ].join('\n');
    const parsed = parsePoolsFile(toml);
    expect(parsed.errors).toEqual(pairwise.crossPool(parsed.pools));
    expect(parsed.errors).toEqual([
      { path: 'pools.c.ranges[0]', message: "overlaps pool 'a' (both hold 10-14 (5 values)); pools of the same family must not share values" },
      { path: 'pools.c.ranges[0]', message: "overlaps pool 'a' (both hold 16-29 (14 values)); pools of the same family must not share values" },
      { path: 'pools.c.ranges[0]', message: "overlaps pool 'b' (both hold 65-69 (5 values)); pools of the same family must not share values" },
    ]);
  });
});

describe('run arithmetic on long lists', () => {
  const runsArb = fc.array(fc.record({ start: fc.bigInt({ min: 0n, max: 500n }), len: fc.bigInt({ min: 0n, max: 30n }) }), { maxLength: 30 }).map((xs) =>
    xs.map(({ start, len }): Run => ({ start, end: start + len })),
  );
  const members = (runs: readonly Run[]) => {
    const s = new Set<bigint>();
    for (const r of runs) for (let v = r.start; v < r.end; v++) s.add(v);
    return s;
  };

  propTest.prop([runsArb, runsArb])('subtract keeps exactly the values of a not in b, run by run', (a, b) => {
    const out = subtract(a, b);
    const cut = members(b);
    expect(out.every((r) => r.end > r.start)).toBe(true);
    for (const r of a) {
      const kept = out.filter((o) => o.start >= r.start && o.end <= r.end);
      expect(members(kept)).toEqual(new Set([...members([r])].filter((v) => !cut.has(v))));
    }
  });
});
