/**
 * Sets of values as sorted runs of half-open intervals [start, end). Every pool, file and exclusion is
 * one of these, so no code path ever enumerates a pool's values.
 */

export interface Run {
  start: bigint;
  end: bigint;
}

export interface FlaggedRun extends Run {
  autoAssign: boolean;
}

export function runSize(runs: readonly Run[]): bigint {
  let n = 0n;
  for (const r of runs) n += r.end - r.start;
  return n;
}

/** Sorts and merges overlapping or touching runs. */
export function normalize(runs: readonly Run[]): Run[] {
  const sorted = runs.filter((r) => r.end > r.start).sort((a, b) => cmp(a.start, b.start));
  const out: Run[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

/** Like normalize, but only merges touching runs that carry the same flag; input runs must be disjoint. */
export function normalizeFlagged(runs: readonly FlaggedRun[]): FlaggedRun[] {
  const sorted = runs.filter((r) => r.end > r.start).sort((a, b) => cmp(a.start, b.start));
  const out: FlaggedRun[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start === last.end && r.autoAssign === last.autoAssign) last.end = r.end;
    else out.push({ ...r });
  }
  return out;
}

export function union(a: readonly Run[], b: readonly Run[]): Run[] {
  return normalize([...a, ...b]);
}

export function intersect(a: readonly Run[], b: readonly Run[]): Run[] {
  const x = normalize(a);
  const y = normalize(b);
  const out: Run[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const start = max(x[i].start, y[j].start);
    const end = min(x[i].end, y[j].end);
    if (start < end) out.push({ start, end });
    if (x[i].end < y[j].end) i++;
    else j++;
  }
  return out;
}

/** Values of `a` that are not in `b`, keeping whatever else each run of `a` carries. */
export function subtract<R extends Run>(a: readonly R[], b: readonly Run[]): R[] {
  const cut = normalize(b);
  const out: R[] = [];
  for (const r of a) {
    let start = r.start;
    // Only the cuts from the first one ending past the run's start can take anything out of it.
    for (let i = firstEndingAfter(cut, start); i < cut.length && start < r.end; i++) {
      const c = cut[i];
      if (c.start >= r.end) break;
      if (c.start > start) out.push({ ...r, start, end: c.start });
      start = max(start, c.end);
    }
    if (start < r.end) out.push({ ...r, start, end: r.end });
  }
  return out;
}

/** The parts of `a` that are also in `b`, keeping the flags of `a`. */
export function restrict<R extends Run>(a: readonly R[], b: readonly Run[]): R[] {
  const y = normalize(b);
  const out: R[] = [];
  for (const r of a) {
    if (r.end <= r.start) continue;
    for (let i = firstEndingAfter(y, r.start); i < y.length && y[i].start < r.end; i++) {
      out.push({ ...r, start: max(r.start, y[i].start), end: min(r.end, y[i].end) });
    }
  }
  return out;
}

/**
 * In runs sorted by start whose ends rise too (disjoint runs, as normalize returns them): the index of
 * the first run that ends after `v`, or `runs.length`. A binary search, so that looking a run up in a
 * long list never walks the list.
 */
export function firstEndingAfter(runs: readonly Run[], v: bigint): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid].end > v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** In runs sorted by start: the index of the first run that starts at or after `v`, or `runs.length`. */
export function firstStartingFrom(runs: readonly Run[], v: bigint): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid].start >= v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Whether `run` shares a value with disjoint sorted runs (as normalize returns them), by binary search. */
export function overlapsSorted(runs: readonly Run[], run: Run): boolean {
  if (run.end <= run.start) return false;
  const i = firstEndingAfter(runs, run.start);
  return i < runs.length && runs[i].start < run.end;
}

export function overlaps(a: readonly Run[], b: readonly Run[]): boolean {
  return intersect(a, b).length > 0;
}

export function contains(runs: readonly Run[], v: bigint): boolean {
  return runs.some((r) => r.start <= v && v < r.end);
}

export function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
