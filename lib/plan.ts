/**
 * Additive registration, planned: what applying a parsed file to the registered pools would change.
 * A file is a set union per pool; nothing registered is ever removed or changed, and whatever a file
 * asks that would do so is reported as ignored. Pure: the store applies the plan.
 */
import { type ConfigIssue, describeRun, type PoolsFile, type PoolSpec, parsePoolsFile } from './config.js';
import { type FlaggedRun, intersect, normalize, normalizeFlagged, type Run, restrict, runSize, subtract } from './runs.js';
import { type PoolType, parsePrefix, prefixSpan } from './values.js';

/** A pool as the store holds it, as far as planning needs to know. */
export interface RegisteredPool {
  name: string;
  type: PoolType;
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
}

export const DEFAULT_MAX_POOL_SIZE = 250_000;

/** Registration writes every changed pool in one transaction, which holds at most 100 items. */
export const MAX_CHANGED_POOLS = 99;

/**
 * Every run a registration adds is kept as its own segment in the pool's definition item, which every
 * allocation reads; this keeps that item small whatever the history of grows.
 */
export const MAX_SEGMENTS_PER_POOL = 256;

/** The registry item names every pool; this keeps it a few tens of KB. */
export const MAX_POOLS = 1000;

export function planRegistration(registered: readonly RegisteredPool[], file: PoolsFile, options: PlanOptions): PlanResult {
  const byName = new Map(registered.map((p) => [p.name, p]));
  const errors: ConfigIssue[] = [];
  const ignored: Ignored[] = [];
  const changes: PoolChange[] = [];

  for (const spec of file.pools) {
    const existing = byName.get(spec.name);
    const change = existing ? planGrowth(existing, spec, errors, ignored) : planCreation(spec, errors);
    if (!change) continue;
    if (change.size > BigInt(options.maxPoolSize)) {
      errors.push({
        path: spec.path,
        message: `pool '${spec.name}' would hold ${change.size} values, more than MAX_POOL_SIZE (${options.maxPoolSize}); split it into several pools or raise MAX_POOL_SIZE`,
      });
    }
    const segments = (existing ? (existing.segments ?? existing.runs.length) : 0) + change.added.length;
    if (segments > MAX_SEGMENTS_PER_POOL) {
      errors.push({
        path: spec.path,
        message: `pool '${spec.name}' would be made of ${segments} separate ranges, more than ${MAX_SEGMENTS_PER_POOL}; use fewer, larger ranges (a prefix, or merge adjacent ranges)`,
      });
    }
    errors.push(...overlapsRegistered(spec, change.added, registered));
    changes.push(change);
  }

  const created = changes.filter((c) => c.action === 'created').length;
  if (registered.length + created > MAX_POOLS) {
    errors.push({ path: 'pools', message: `at most ${MAX_POOLS} pools can be registered; ${registered.length} are, and this file creates ${created} more` });
  }
  const changed = changes.filter((c) => c.action !== 'unchanged').length;
  if (changed > MAX_CHANGED_POOLS) {
    errors.push({ path: 'pools', message: `a file may create or grow at most ${MAX_CHANGED_POOLS} pools at once; this one changes ${changed}; split it into several files` });
  }
  if (errors.length > 0) return { ok: false, errors, warnings: file.warnings };
  return { ok: true, plan: { changes, ignored, warnings: file.warnings } };
}

/**
 * Parses a file and plans it against the registered pools: the whole check, short of writing. Pools
 * that parsed cleanly are planned even when others did not, so one run reports every problem.
 */
export function planFile(text: string, registered: readonly RegisteredPool[], options: PlanOptions): PlanResult {
  const parsed = parsePoolsFile(text);
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
  return { name: spec.name, type: spec.type, action: 'created', added, addedCount: size, size, prefix: spec.prefix?.cidr };
}

function planGrowth(existing: RegisteredPool, spec: PoolSpec, errors: ConfigIssue[], ignored: Ignored[]): PoolChange | undefined {
  if (existing.type !== spec.type) {
    errors.push({
      path: `${spec.path}.type`,
      message: `pool '${spec.name}' is registered as ${existing.type}; its type cannot change (got ${spec.type}). Use a new pool name for ${spec.type} values`,
    });
    return undefined;
  }
  const currentSize = runSize(existing.runs);
  const unchanged: PoolChange = { name: spec.name, type: spec.type, action: 'unchanged', added: [], addedCount: 0n, size: currentSize, prefix: existing.prefix };
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

/** Everything the file asks that would remove or change a registered value, each with its reason. */
function shrinkReasons(existing: RegisteredPool, spec: PoolSpec): string[] {
  const type = spec.type;
  const reasons: string[] = [];

  for (const r of existing.runs) {
    for (const part of spec.parts) {
      if (part.autoAssign === r.autoAssign) continue;
      for (const shared of intersect([r], [part])) {
        reasons.push(
          `${part.path} sets auto_assign = ${part.autoAssign} on ${describeRun(type, shared)}, registered with auto_assign = ${r.autoAssign}; registered values never change`,
        );
      }
    }
  }

  let missing: Run[] = subtract(existing.runs, [...spec.parts, ...spec.excluded]);
  const registeredPrefix = existing.prefix ? parsePrefix(type as 'ipv4' | 'ipv6', existing.prefix) : undefined;
  if (spec.prefix && registeredPrefix?.ok && spec.prefix.length > registeredPrefix.value.length) {
    const span = prefixSpan(type as 'ipv4' | 'ipv6', registeredPrefix.value);
    if (spec.prefix.network >= span.start && spec.prefix.network < span.end) {
      reasons.push(`prefix ${spec.prefix.cidr} is smaller than registered ${existing.prefix}; pools never shrink`);
      missing = subtract(missing, [span]);
    }
  }
  for (const run of normalize(missing)) {
    reasons.push(`${describeRun(type, run)} registered but not in this file; pools never shrink, the values stay`);
  }

  for (const ex of spec.excluded) {
    for (const run of restrict(existing.runs, [ex])) {
      reasons.push(`${ex.path} excludes ${describeRun(type, run)}, which is registered; registered values are never removed`);
    }
  }
  return reasons;
}

function widerPrefix(existing: RegisteredPool, spec: PoolSpec): string | undefined {
  if (!spec.prefix) return existing.prefix;
  if (!existing.prefix) return spec.prefix.cidr;
  const current = parsePrefix(spec.type as 'ipv4' | 'ipv6', existing.prefix);
  if (!current.ok) return spec.prefix.cidr;
  const span = prefixSpan(spec.type as 'ipv4' | 'ipv6', spec.prefix);
  const contains = spec.prefix.length < current.value.length && current.value.network >= span.start && current.value.network < span.end;
  return contains ? spec.prefix.cidr : existing.prefix;
}

function overlapsRegistered(spec: PoolSpec, added: readonly FlaggedRun[], registered: readonly RegisteredPool[]): ConfigIssue[] {
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
}

function flagged(runs: readonly FlaggedRun[]): FlaggedRun[] {
  return normalizeFlagged(runs.map(({ start, end, autoAssign }) => ({ start, end, autoAssign })));
}

/** The registered pools once the plan is applied; the store's result must read back the same. */
export function applyPlan(registered: readonly RegisteredPool[], plan: Plan): RegisteredPool[] {
  const out = new Map(registered.map((p) => [p.name, p]));
  for (const c of plan.changes) {
    if (c.action === 'unchanged') continue;
    const before = out.get(c.name);
    out.set(c.name, {
      name: c.name,
      type: c.type,
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

/** Reads MAX_POOL_SIZE as an operator writes it; unset means the default. */
export function parseMaxPoolSize(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return DEFAULT_MAX_POOL_SIZE;
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1 || n > MAX_POOL_SIZE_CEILING) {
    throw new RangeError(`MAX_POOL_SIZE must be a whole number from 1 to ${MAX_POOL_SIZE_CEILING}; got ${JSON.stringify(text)}`);
  }
  return n;
}
