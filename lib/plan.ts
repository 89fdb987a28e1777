/**
 * Additive registration, planned: what applying a parsed file to the registered pools would change.
 * A file is a set union per pool; nothing registered is ever removed or changed, and whatever a file
 * asks that would do so is reported as ignored. Pure: the store applies the plan.
 */
import {
  type ConfigIssue,
  describeRun,
  familyOf,
  MAX_OVERLAP_ISSUES,
  moreOverlaps,
  type PoolsFile,
  type PoolSpec,
  parsePoolsFile,
  sharingRule,
  type SourcedRun,
} from './config.js';
import type { IntegerKind } from './kinds.js';
import { type AllocationOrder, DEFAULT_ALLOCATION_ORDER } from './orders.js';
import { cmp, type FlaggedRun, firstEndingAfter, firstStartingFrom, normalize, normalizeFlagged, type Run, runSize, subtract } from './runs.js';
import { addressRun, familyOfType, type AddressFamily, type PoolType, parsePrefix, prefixSpan, type ValueSpace } from './values.js';

/** A pool as the store holds it, as far as planning needs to know. */
export interface RegisteredPool {
  name: string;
  type: PoolType;
  /** Prefix pools: the length of every value, fixed at creation. */
  delegate?: number;
  /** Integer pools: what the numbers are (its bounds), fixed at creation. */
  kind?: IntegerKind;
  /** The namespace its values are unique in, fixed at creation; absent for the family's default. */
  scope?: string;
  /** Which free value an automatic allocation takes; absent means random. */
  order?: AllocationOrder;
  /** Disjoint, sorted runs with their auto_assign. */
  runs: FlaggedRun[];
  /** The largest prefix registered for the pool, kept to explain shrinks. */
  prefix?: string;
  /** How many separate runs registrations have added so far (the store's segments); runs if unknown. */
  segments?: number;
}

export type PoolAction = 'created' | 'grown' | 'unchanged';

export interface PoolChange {
  name: string;
  type: PoolType;
  /** Prefix pools: the length of every value. */
  delegate?: number;
  /** Integer pools: what the numbers are. */
  kind?: IntegerKind;
  scope?: string;
  /**
   * The allocation order the file sets: a new pool's, when the file gives one (absent: random), or a
   * registered pool's new one; absent when a registered pool keeps its order.
   */
  order?: AllocationOrder;
  /**
   * A registered pool whose allocation order the file changes. That changes no value, so the action
   * stays what the values say (`unchanged` when none are added), but the definition is written.
   */
  reorder?: boolean;
  action: PoolAction;
  /** Exactly the values this file adds, with the auto_assign they get. */
  added: FlaggedRun[];
  addedCount: bigint;
  /** Pool size once the plan is applied. */
  size: bigint;
  /** The prefix to remember once applied. */
  prefix?: string;
}

export interface Ignored {
  pool: string;
  reason: string;
}

export interface Plan {
  changes: PoolChange[];
  ignored: Ignored[];
  warnings: string[];
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; errors: ConfigIssue[]; warnings: string[] };

export interface PlanOptions {
  /** Largest number of values one pool may hold after the file is applied. */
  maxPoolSize: number;
  /**
   * Where maxPoolSize came from, as the operator would change it (`--max-pool-size`, the CDK context
   * `maxPoolSize`); MAX_POOL_SIZE, the environment variable, when absent.
   */
  maxPoolSizeSetting?: string;
}

export const DEFAULT_MAX_POOL_SIZE = 250_000;

/**
 * Every run a registration adds is kept as its own segment in the pool's definition item, which every
 * allocation reads; this keeps that item small whatever the history of grows.
 */
export const MAX_SEGMENTS_PER_POOL = 256;

/** The registry item names every pool; this keeps it a few tens of KB. */
export const MAX_POOLS = 1000;

export function planRegistration(registered: readonly RegisteredPool[], file: PoolsFile, options: PlanOptions): PlanResult {
  const byName = new Map(registered.map((p) => [p.name, p]));
  const held = indexRegistered(registered);
  const overlapBudget = { left: MAX_OVERLAP_ISSUES, cut: false };
  const errors: ConfigIssue[] = [];
  const ignored: Ignored[] = [];
  const changes: PoolChange[] = [];

  for (const spec of file.pools) {
    const existing = byName.get(spec.name);
    const change = existing ? planGrowth(existing, spec, errors, ignored) : planCreation(spec, errors);
    if (!change) continue;
    if (change.size > BigInt(options.maxPoolSize)) errors.push(tooLarge(spec, change.size, options));
    const segments = (existing ? (existing.segments ?? existing.runs.length) : 0) + change.added.length;
    if (segments > MAX_SEGMENTS_PER_POOL) {
      errors.push({
        path: spec.path,
        message: `pool '${spec.name}' would be made of ${segments} separate ranges, more than ${MAX_SEGMENTS_PER_POOL}; use fewer, larger ranges (a prefix, or merge adjacent ranges)`,
      });
    }
    for (const issue of overlapsRegistered(spec, change.added, registered, held, overlapBudget)) errors.push(issue);
    changes.push(change);
  }
  if (overlapBudget.cut) errors.push(moreOverlaps('with registered pools'));

  const created = changes.filter((c) => c.action === 'created').length;
  if (registered.length + created > MAX_POOLS) {
    errors.push({ path: 'pools', message: `at most ${MAX_POOLS} pools can be registered; ${registered.length} are, and this file creates ${created} more` });
  }
  if (errors.length > 0) return { ok: false, errors, warnings: file.warnings };
  return { ok: true, plan: { changes, ignored, warnings: file.warnings } };
}

/**
 * A pool over the limit: the message formats every number, names the setting the limit came from, and
 * suggests raising it only to a value an operator may set (at most MAX_POOL_SIZE_CEILING).
 */
function tooLarge(spec: PoolSpec, size: bigint, options: PlanOptions): ConfigIssue {
  const setting = options.maxPoolSizeSetting ?? 'MAX_POOL_SIZE';
  const raise = size <= BigInt(MAX_POOL_SIZE_CEILING) ? ` or raise ${setting} to ${count(size)} or more (at most ${count(MAX_POOL_SIZE_CEILING)})` : ` (${setting} can be raised to ${count(MAX_POOL_SIZE_CEILING)} at most, which is still too small)`;
  return {
    path: spec.path,
    message: `pool '${spec.name}' would hold ${count(size)} values, more than ${setting} (${count(options.maxPoolSize)}); split it into several pools${raise}`,
  };
}

/**
 * Parses a file and plans it against the registered pools: the whole check, short of writing. Pools
 * that parsed cleanly are planned even when others did not, so one run reports every problem.
 */
export function planFile(text: string, registered: readonly RegisteredPool[], options: PlanOptions): PlanResult {
  const byName = new Map(registered.map((p) => [p.name, p]));
  const parsed = parsePoolsFile(text, {
    delegateOf: (pool) => byName.get(pool)?.delegate,
    kindOf: (pool) => byName.get(pool)?.kind,
    scopeOf: (pool) => byName.get(pool)?.scope,
  });
  const planned = planRegistration(registered, parsed, options);
  if (parsed.errors.length === 0) return planned;
  const errors = [...parsed.errors, ...(planned.ok ? [] : planned.errors)];
  return { ok: false, errors, warnings: parsed.warnings };
}

function planCreation(spec: PoolSpec, errors: ConfigIssue[]): PoolChange | undefined {
  const hasPrefix = spec.prefix !== undefined;
  if (hasPrefix === spec.hasRanges) {
    errors.push({
      path: spec.path,
      message: `a new pool needs exactly one of 'prefix' or 'ranges'; got ${hasPrefix ? 'both' : 'neither'} (a registered pool may take both, to grow a prefix pool by ranges)`,
    });
    return undefined;
  }
  const added = flagged(spec.parts);
  const size = runSize(added);
  if (size === 0n) {
    errors.push({ path: spec.path, message: 'the definition holds no value (everything is excluded); give it at least one value' });
    return undefined;
  }
  return {
    name: spec.name,
    type: spec.type,
    delegate: spec.delegate,
    kind: spec.kind,
    scope: spec.scope,
    order: spec.order,
    action: 'created',
    added,
    addedCount: size,
    size,
    prefix: spec.prefix?.cidr,
  };
}

function planGrowth(existing: RegisteredPool, spec: PoolSpec, errors: ConfigIssue[], ignored: Ignored[]): PoolChange | undefined {
  if (existing.type !== spec.type) {
    errors.push({
      path: `${spec.path}.type`,
      message: `pool '${spec.name}' is registered as ${existing.type}; its type cannot change (got ${spec.type}). Use a new pool name for ${spec.type} values`,
    });
    return undefined;
  }
  if (spec.givesDelegate && spec.delegate !== existing.delegate) {
    errors.push({
      path: `${spec.path}.delegate_prefix_len`,
      message: `pool '${spec.name}' is registered with delegate_prefix_len ${existing.delegate}; it cannot change (got ${spec.delegate}): leave it out, or use a new pool name`,
    });
    return undefined;
  }
  // Giving a kind to a pool registered without one is a change too: its values were never checked against the bounds.
  if (spec.givesKind && spec.kind !== existing.kind) {
    errors.push({
      path: `${spec.path}.kind`,
      message: `pool '${spec.name}' is registered ${existing.kind === undefined ? 'without a kind' : `with kind "${existing.kind}"`}; its kind cannot change (got "${spec.kind}"): ${existing.kind === undefined ? 'leave kind out' : `leave it out or write "${existing.kind}"`}, or use a new pool name`,
    });
    return undefined;
  }
  // As with kind: a scope given to a pool registered without one would move its values into another namespace.
  if (spec.givesScope && spec.scope !== existing.scope) {
    errors.push({
      path: `${spec.path}.scope`,
      message: `pool '${spec.name}' is registered ${existing.scope === undefined ? "in its family's default scope" : `in scope "${existing.scope}"`}; its scope cannot change (got "${spec.scope}"): ${existing.scope === undefined ? 'leave scope out' : `leave it out or write "${existing.scope}"`}, or use a new pool name`,
    });
    return undefined;
  }
  // Left out, the registered order stays: a file that only grows a pool does not reset how it allocates.
  const reorder = spec.order !== undefined && spec.order !== (existing.order ?? DEFAULT_ALLOCATION_ORDER);
  const currentSize = runSize(existing.runs);
  const unchanged: PoolChange = {
    name: spec.name,
    type: spec.type,
    delegate: existing.delegate,
    kind: existing.kind,
    scope: existing.scope,
    ...(reorder ? { order: spec.order, reorder } : {}),
    action: 'unchanged',
    added: [],
    addedCount: 0n,
    size: currentSize,
    prefix: existing.prefix,
  };
  if (spec.prefix === undefined && !spec.hasRanges) return unchanged;

  const added = flagged(subtract(spec.parts, existing.runs));
  for (const reason of shrinkReasons(existing, spec)) ignored.push({ pool: spec.name, reason });

  const addedCount = runSize(added);
  return {
    ...unchanged,
    action: addedCount > 0n ? 'grown' : 'unchanged',
    added,
    addedCount,
    size: currentSize + addedCount,
    prefix: widerPrefix(existing, spec),
  };
}

/**
 * At most this many reasons are listed for one pool, then one says how many more there are: exclude
 * entries may overlap each other, and each one that covers many registered ranges would otherwise add
 * a reason for every one of them.
 */
export const MAX_REASONS_PER_POOL = 1000;

/** Everything the file asks that would remove or change a registered value, each with its reason. */
function shrinkReasons(existing: RegisteredPool, spec: PoolSpec): string[] {
  const type: ValueSpace = spec;
  const reasons: string[] = [];
  let unlisted = 0;
  // Reasons are only written while there is room for them; the rest are counted.
  const note = (reason: () => string) => {
    if (reasons.length < MAX_REASONS_PER_POOL) reasons.push(reason());
    else unlisted++;
  };
  // Registered runs are disjoint and sorted; sorting a copy costs nothing then and keeps the sweeps right.
  const runs = [...existing.runs].sort((a, b) => cmp(a.start, b.start));

  for (const { run: r, part, shared } of flippedFlags(runs, spec.parts)) {
    note(
      () =>
        `${part.path} sets auto_assign = ${part.autoAssign} on ${describeRun(type, shared)}, registered with auto_assign = ${r.autoAssign}; registered values never change`,
    );
  }

  let missing: Run[] = subtract(runs, [...spec.parts, ...spec.excluded]);
  const family = familyOfType(type.type) as AddressFamily;
  const registeredPrefix = existing.prefix && family ? parsePrefix(family, existing.prefix) : undefined;
  if (spec.prefix && registeredPrefix?.ok && spec.prefix.length > registeredPrefix.value.length) {
    const span = prefixSpan(family, registeredPrefix.value);
    if (spec.prefix.network >= span.start && spec.prefix.network < span.end) {
      const prefix = spec.prefix.cidr;
      note(() => `prefix ${prefix} is smaller than registered ${existing.prefix}; pools never shrink`);
      missing = subtract(missing, [span]);
    }
  }
  for (const run of normalize(missing)) {
    note(() => `${describeRun(type, run)} registered but not in this file; pools never shrink, the values stay`);
  }

  for (const ex of spec.excluded) {
    const first = firstEndingAfter(runs, ex.start);
    const end = firstStartingFrom(runs, ex.end);
    for (let i = first; i < end; i++) {
      if (reasons.length >= MAX_REASONS_PER_POOL) {
        // Counted, not walked: overlapping exclude entries can each cover every registered run.
        unlisted += end - i;
        break;
      }
      const r = runs[i];
      const run = { start: r.start > ex.start ? r.start : ex.start, end: r.end < ex.end ? r.end : ex.end };
      note(() => `${ex.path} excludes ${describeRun(type, run)}, which is registered; registered values are never removed`);
    }
  }
  if (unlisted > 0) reasons.push(`and ${unlisted} more like these, not listed (at most ${MAX_REASONS_PER_POOL} per pool)`);
  return reasons;
}

/**
 * The registered runs and the parts of the file that overlap with different auto_assign flags, in the
 * order registered run, then part: one sweep over both, sorted, as both are disjoint.
 */
function flippedFlags(runs: readonly FlaggedRun[], parts: readonly SourcedRun[]) {
  const sortedParts = parts.map((part, index) => ({ part, index })).sort((a, b) => cmp(a.part.start, b.part.start));
  const found: { runIndex: number; partIndex: number; run: FlaggedRun; part: SourcedRun; shared: Run }[] = [];
  let i = 0;
  let j = 0;
  while (i < runs.length && j < sortedParts.length) {
    const r = runs[i];
    const { part, index } = sortedParts[j];
    const start = r.start > part.start ? r.start : part.start;
    const end = r.end < part.end ? r.end : part.end;
    if (start < end && r.autoAssign !== part.autoAssign) found.push({ runIndex: i, partIndex: index, run: r, part, shared: { start, end } });
    if (r.end < part.end) i++;
    else j++;
  }
  return found.sort((a, b) => a.runIndex - b.runIndex || a.partIndex - b.partIndex);
}

function widerPrefix(existing: RegisteredPool, spec: PoolSpec): string | undefined {
  if (!spec.prefix) return existing.prefix;
  if (!existing.prefix) return spec.prefix.cidr;
  const family = familyOfType(spec.type) as AddressFamily;
  const current = parsePrefix(family, existing.prefix);
  if (!current.ok) return spec.prefix.cidr;
  const span = prefixSpan(family, spec.prefix);
  const contains = spec.prefix.length < current.value.length && current.value.network >= span.start && current.value.network < span.end;
  return contains ? spec.prefix.cidr : existing.prefix;
}

/** One registered run, with the pool it belongs to. */
interface HeldRun extends Run {
  pool: number;
}

/** The registered runs of one family, sorted by start; `reach[i]` is the highest end among runs 0..i. */
interface FamilyIndex {
  runs: HeldRun[];
  reach: bigint[];
}

/** Every registered pool's values, per family, to look up in O(log n) what a new run overlaps. */
function indexRegistered(registered: readonly RegisteredPool[]): Map<string, FamilyIndex> {
  const families = new Map<string, FamilyIndex>();
  registered.forEach((pool, index) => {
    const family = familyOf(pool);
    let f = families.get(family);
    if (!f) families.set(family, (f = { runs: [], reach: [] }));
    // On the addresses values cover, so that a prefix pool and an address pool of one family meet.
    for (const r of normalize(pool.runs)) f.runs.push({ ...addressRun(pool, r), pool: index });
  });
  for (const f of families.values()) {
    f.runs.sort((a, b) => cmp(a.start, b.start));
    // Registered pools never overlap, so ends rise with starts; `reach` keeps the look-up right even if they did.
    let reach = -1n;
    f.reach = f.runs.map((r) => (reach = r.end > reach ? r.end : reach));
  }
  return families;
}

/**
 * What the spec adds must not overlap any other registered pool of its family: one issue per part and
 * registered pool, with the first values they would share, in the order registered pool, then part.
 * At most `budget.left` issues for the whole file; beyond that `budget.cut` is set.
 */
function overlapsRegistered(
  spec: PoolSpec,
  added: readonly FlaggedRun[],
  registered: readonly RegisteredPool[],
  index: ReadonlyMap<string, FamilyIndex>,
  budget: { left: number; cut: boolean },
): ConfigIssue[] {
  const family = index.get(familyOf(spec));
  if (added.length === 0 || !family || budget.cut) return [];
  const covers = (r: Run) => addressRun(spec, r);
  const adding = normalize(added).map(covers);
  const found = new Map<string, { pool: number; part: number; shared: Run }>();
  parts: for (const [k, valuePart] of spec.parts.entries()) {
    const part = covers(valuePart);
    // What this part adds, in value order...
    for (let a = firstEndingAfter(adding, part.start); a < adding.length && adding[a].start < part.end; a++) {
      const piece = { start: max(adding[a].start, part.start), end: min(adding[a].end, part.end) };
      // ...and the registered runs it meets, in value order: the first found for a pool is the lowest.
      for (let i = firstReaching(family.reach, piece.start); i < family.runs.length && family.runs[i].start < piece.end; i++) {
        const r = family.runs[i];
        if (r.end <= piece.start || registered[r.pool].name === spec.name) continue;
        const key = `${r.pool}:${k}`;
        if (found.has(key)) continue;
        found.set(key, { pool: r.pool, part: k, shared: { start: max(r.start, piece.start), end: min(r.end, piece.end) } });
        if (found.size > budget.left) break parts;
      }
    }
  }
  const hits = [...found.values()].sort((x, y) => x.pool - y.pool || x.part - y.part).slice(0, budget.left);
  if (found.size > budget.left) budget.cut = true;
  budget.left -= hits.length;
  return hits.map(({ pool, part, shared }) => ({
    path: spec.parts[part].path,
    message: `overlaps registered pool '${registered[pool].name}' (both would hold ${describeRun(familyOfType(spec.type) ?? spec.type, shared)}); ${sharingRule(spec)}`,
  }));
}

/** A number with thousands separators, as messages show sizes. */
function count(n: number | bigint): string {
  return n.toLocaleString('en-US');
}

/** The first index whose reach (highest end so far) is past `v`. */
function firstReaching(reach: readonly bigint[], v: bigint): number {
  let lo = 0;
  let hi = reach.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (reach[mid] > v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function flagged(runs: readonly FlaggedRun[]): FlaggedRun[] {
  return normalizeFlagged(runs.map(({ start, end, autoAssign }) => ({ start, end, autoAssign })));
}

/** The registered pools once the plan is applied; the store's result must read back the same. */
export function applyPlan(registered: readonly RegisteredPool[], plan: Plan): RegisteredPool[] {
  const out = new Map(registered.map((p) => [p.name, p]));
  for (const c of plan.changes) {
    if (c.action === 'unchanged' && !c.reorder) continue;
    const before = out.get(c.name);
    out.set(c.name, {
      name: c.name,
      type: c.type,
      delegate: c.delegate,
      kind: c.kind,
      scope: c.scope,
      order: c.order ?? before?.order,
      runs: normalizeFlagged([...(before?.runs ?? []), ...c.added]),
      prefix: c.prefix,
      segments: (before ? (before.segments ?? before.runs.length) : 0) + c.added.length,
    });
  }
  return [...out.values()];
}

/**
 * The largest MAX_POOL_SIZE an operator may set: the whole 24-bit VNI space. The store lists a pool's
 * full chunks in the pool's definition item, which every allocation reads, so that item must stay
 * well inside DynamoDB's 400 KB (16,384 chunks of 1,024 values at most: about 64 KB when all are full).
 */
export const MAX_POOL_SIZE_CEILING = 2 ** 24;

/**
 * Reads MAX_POOL_SIZE as an operator writes it (`250000`, `250_000` or `250,000`); unset means the
 * default. `setting` names where the text came from (the variable, or a flag) in the error.
 */
export function parseMaxPoolSize(text: string | undefined, setting = 'MAX_POOL_SIZE'): number {
  if (text === undefined || text.trim() === '') return DEFAULT_MAX_POOL_SIZE;
  const digits = text.trim().replaceAll(/[_,]/g, '');
  const n = /^[0-9]+$/.test(digits) ? Number(digits) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_POOL_SIZE_CEILING) {
    throw new RangeError(
      `${setting} must be a whole number from 1 to ${count(MAX_POOL_SIZE_CEILING)} (the default is ${count(DEFAULT_MAX_POOL_SIZE)}); got ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`,
    );
  }
  return n;
}
