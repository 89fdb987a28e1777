/**
 * Large pool files, up to the 1 MiB a file may be, in the shapes that used to make planning slow (issue
 * 13): many pools with many ranges, a file over the pool limit, one pool of many ranges and exclusions,
 * pools that all overlap, exclusions over a registered pool. Shared by `npm run bench:plan` and
 * test/unit/plan-scale.test.ts, which checks what each one plans to.
 */
import { MAX_POOLS, MAX_SEGMENTS_PER_POOL, type RegisteredPool } from '../lib/plan.js';
import { MAX_FILE_BYTES } from '../lib/registration.js';
import { normalizeFlagged } from '../lib/runs.js';
import type { PoolType } from '../lib/values.js';

export interface PlanShape {
  name: string;
  text: string;
  /** Pools declared in the file. */
  pools: number;
  registered: RegisteredPool[];
}

const FAMILIES: PoolType[] = ['integer', 'ipv4', 'ipv6'];

/** A value of the type, as a file writes it. */
function literal(type: PoolType, v: number): string {
  if (type === 'integer') return String(v);
  if (type === 'ipv4') return `"10.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}"`;
  return `"2001:db8::${(v >>> 16).toString(16)}:${(v & 0xffff).toString(16)}"`;
}

/** A value of the type as the planner holds it. */
function value(type: PoolType, v: number): bigint {
  if (type === 'integer') return BigInt(v);
  if (type === 'ipv4') return (10n << 24n) + BigInt(v);
  return 0x20010db8n * 2n ** 96n + BigInt(v);
}

const name = (i: number) => `pool-${String(i).padStart(5, '0')}`;

interface Layout {
  pools: number;
  rangesPerPool: number;
  /** Pool i of its family owns values from base(i) on; range r is [base + r*8, base + r*8 + 4). */
  base(i: number): number;
  type(i: number): PoolType;
}

function layout(pools: number, rangesPerPool: number): Layout {
  return {
    pools,
    rangesPerPool,
    type: (i) => FAMILIES[i % FAMILIES.length],
    base: (i) => 1000 + Math.floor(i / FAMILIES.length) * rangesPerPool * 8,
  };
}

function rangeStart(l: Layout, i: number, r: number): number {
  return l.base(i) + r * 8;
}

function poolsText(l: Layout): string {
  const out: string[] = [];
  for (let i = 0; i < l.pools; i++) {
    const type = l.type(i);
    const ranges: string[] = [];
    for (let r = 0; r < l.rangesPerPool; r++) {
      const start = rangeStart(l, i, r);
      ranges.push(`  { start = ${literal(type, start)}, end = ${literal(type, start + 4)} },`);
    }
    out.push(`[pools.${name(i)}]\ntype = "${type}"\nranges = [\n${ranges.join('\n')}\n]\n`);
  }
  return out.join('\n');
}

/** The most ranges per pool (at most 256, the segment limit) that keep a file of `pools` pools within 1 MiB. */
function fittingRanges(pools: number): number {
  let lo = 1;
  let hi = MAX_SEGMENTS_PER_POOL;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (Buffer.byteLength(poolsText(layout(pools, mid))) <= MAX_FILE_BYTES) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The registered state of a layout's pools, holding the ranges `keep` selects. */
function registeredOf(l: Layout, keep: (r: number) => boolean): RegisteredPool[] {
  return Array.from({ length: l.pools }, (_, i) => {
    const type = l.type(i);
    const runs = [];
    for (let r = 0; r < l.rangesPerPool; r++) {
      if (!keep(r)) continue;
      const start = rangeStart(l, i, r);
      runs.push({ start: value(type, start), end: value(type, start + 4), autoAssign: true });
    }
    return { name: name(i), type, runs: normalizeFlagged(runs), segments: runs.length };
  });
}

export function planShapes(): PlanShape[] {
  const shapes: PlanShape[] = [];

  // 1,000 pools (the pool limit) of the three families, each with as many ranges as fit in 1 MiB.
  const wide = layout(MAX_POOLS, fittingRanges(MAX_POOLS));
  const wideText = poolsText(wide);
  shapes.push({ name: 'pools-1000-new', text: wideText, pools: wide.pools, registered: [] });
  // The same file against those pools registered with every other range: every pool grows.
  shapes.push({ name: 'pools-1000-grow', text: wideText, pools: wide.pools, registered: registeredOf(wide, (r) => r % 2 === 0) });

  // 10,000 pools of one range (about 600 KB): ten times the pool limit.
  const many = layout(10 * MAX_POOLS, 1);
  shapes.push({ name: 'pools-10000', text: poolsText(many), pools: many.pools, registered: [] });

  // One pool of as many ranges as fit with one exclusion in each: far more than 256 segments.
  {
    const head = '[pools.one]\ntype = "integer"\nranges = [\n';
    const middle = '\n]\nexclude = [';
    const tail = ']\n';
    const ranges: string[] = [];
    const excludes: string[] = [];
    let bytes = head.length + middle.length + tail.length;
    for (let r = 0; ; r++) {
      const range = `{ start = ${r * 16}, end = ${r * 16 + 10} }`;
      const exclude = String(r * 16 + 5);
      const more = range.length + exclude.length + (r > 0 ? 4 : 0); // ",\n" and ", " between entries
      if (bytes + more > MAX_FILE_BYTES) break;
      bytes += more;
      ranges.push(range);
      excludes.push(exclude);
    }
    shapes.push({ name: 'one-pool-ranges-excludes', text: `${head}${ranges.join(',\n')}${middle}${excludes.join(', ')}${tail}`, pools: 1, registered: [] });
  }

  // 1,000 pools that all hold the same values: every pair of pools overlaps.
  shapes.push({
    name: 'pools-1000-same-range',
    text: Array.from({ length: MAX_POOLS }, (_, i) => `[pools.${name(i)}]\ntype = "integer"\nranges = [{ start = 100, end = 200 }]\n`).join('\n'),
    pools: MAX_POOLS,
    registered: [],
  });

  // A registered pool of 256 ranges, and a file excluding all of them again and again.
  {
    const runs = Array.from({ length: MAX_SEGMENTS_PER_POOL }, (_, r) => ({ start: BigInt(r * 8), end: BigInt(r * 8 + 4), autoAssign: true }));
    const registered: RegisteredPool[] = [{ name: 'held', type: 'integer', runs, segments: runs.length }];
    const end = MAX_SEGMENTS_PER_POOL * 8;
    const head = `[pools.held]\ntype = "integer"\nranges = [{ start = 0, end = ${end} }]\nexclude = [\n`;
    const entry = `  { start = 0, end = ${end} },\n`;
    const count = Math.floor((MAX_FILE_BYTES - head.length - 2) / entry.length);
    shapes.push({ name: 'excludes-over-registered', text: `${head}${entry.repeat(count)}]\n`, pools: 1, registered });
  }

  return shapes;
}
