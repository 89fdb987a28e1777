/**
 * The JSON shapes of the contract (SPEC section 2) built from domain values, shared by the HTTP API,
 * the CLI and the config-sync handler so that they cannot drift apart.
 */
import type { Allocation, PoolCounts } from './model.js';
import type { Ignored, Plan } from './plan.js';
import { type FlaggedRun, normalizeFlagged, runSize } from './runs.js';
import { formatValue, type JsonValue, type PoolType } from './values.js';

export interface RangeJson {
  start: JsonValue;
  end: JsonValue;
  auto_assign: boolean;
  size: number;
}

export interface ConfigResultJson {
  applied: boolean;
  dry_run: boolean;
  pools: { name: string; action: 'created' | 'grown' | 'unchanged'; added: number; size: number }[];
  ignored: Ignored[];
  warnings: string[];
}

/** A pool's value set as merged, sorted [start, end) runs, each with its size. */
export function rangesJson(type: PoolType, runs: readonly FlaggedRun[]): RangeJson[] {
  return normalizeFlagged(runs).map((r) => ({
    start: formatValue(type, r.start),
    end: formatEnd(type, r.end),
    auto_assign: r.autoAssign,
    size: Number(runSize([r])),
  }));
}

/**
 * `end` is exclusive, so a run reaching the last address of the space (only a /31, /32, /127 or /128
 * prefix at the very top can) ends one past it, which has no address form; it reads as the carry.
 */
function formatEnd(type: PoolType, end: bigint): JsonValue {
  if (type === 'ipv4' && end === 1n << 32n) return '256.0.0.0';
  if (type === 'ipv6' && end === 1n << 128n) return '10000::';
  return formatValue(type, end);
}

export function configResultJson(plan: Plan, opts: { applied: boolean; dryRun: boolean }): ConfigResultJson {
  return {
    applied: opts.applied,
    dry_run: opts.dryRun,
    pools: plan.changes.map((c) => ({ name: c.name, action: c.action, added: Number(c.addedCount), size: Number(c.size) })),
    ignored: plan.ignored,
    warnings: plan.warnings,
  };
}

export interface PoolJson {
  name: string;
  type: PoolType;
  size: number;
  used: number;
  free: number;
  auto_assign_free: number;
  /** used / size, 0..1 */
  utilization: number;
  /** Inclusive bounds, as NICo's list shows them. */
  min: JsonValue;
  max: JsonValue;
  ranges: RangeJson[];
  created_at: string;
  updated_at: string;
}


export function poolJson(p: PoolCounts): PoolJson {
  const runs = normalizeFlagged(p.runs);
  const first = runs[0];
  const last = runs[runs.length - 1];
  return {
    name: p.name,
    type: p.type,
    size: p.size,
    used: p.used,
    free: p.size - p.used,
    auto_assign_free: p.autoAssignSize - p.autoAssignUsed,
    utilization: p.size === 0 ? 0 : p.used / p.size,
    min: formatValue(p.type, first?.start ?? 0n),
    max: formatValue(p.type, (last?.end ?? 1n) - 1n),
    ranges: rangesJson(p.type, runs),
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

export interface AllocationJson {
  pool: string;
  value: JsonValue;
  owner: string;
  allocated_at: string;
  /** Values held: 1, or a block's size. */
  size: number;
}

export function allocationJson(a: Allocation): AllocationJson {
  return { pool: a.pool, value: formatValue(a.type, a.value), owner: a.owner, allocated_at: a.allocatedAt, size: a.size };
}

/**
 * `owner`: 1-256 characters of printable ASCII without spaces (`!` to `~`), except `/ ? # % \`, and
 * not `.` or `..`: every owner can then be written as one path segment (`…/owners/{owner}`), even
 * through API Gateway, which percent-decodes the path before the function sees it. The class below is
 * `!` to `~` without `#` (0x23), `%` (0x25), `/` (0x2f), `?` (0x3f) and `\` (0x5c).
 */
export const OWNER_PATTERN = /^(?!\.\.?$)[!"$&-.0->@-[\]-~]{1,256}$/;
export const OWNER_RULE = '1-256 characters of printable ASCII without spaces (! to ~), except / ? # % and \\, and not "." or ".."';
