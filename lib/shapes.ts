/**
 * The JSON shapes of the contract (docs/API.md) built from domain values, shared by the HTTP API,
 * the CLI and the config-sync handler so that they cannot drift apart.
 */
import type { IntegerKind } from './kinds.js';
import { type AllocationOrder, DEFAULT_ALLOCATION_ORDER } from './orders.js';
import type { Allocation, HistoryEntry, HistoryEvent, PoolCounts } from './model.js';
import type { Ignored, Plan } from './plan.js';
import { type FlaggedRun, normalizeFlagged, runSize } from './runs.js';
import { familyOfType, formatValue, isPrefixType, type JsonValue, type PoolType, spaceEnd, spaceOf, type SpaceLike } from './values.js';

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
export function rangesJson(space: SpaceLike, runs: readonly FlaggedRun[]): RangeJson[] {
  return normalizeFlagged(runs).map((r) => ({
    start: formatValue(space, r.start),
    end: formatEnd(space, r.end),
    auto_assign: r.autoAssign,
    size: Number(runSize([r])),
  }));
}

/**
 * `end` is exclusive, so a run reaching the last address (or prefix) of the space ends one past it,
 * which has no address form; it reads as the carry ("256.0.0.0", "10000::", "256.0.0.0/26").
 */
function formatEnd(x: SpaceLike, end: bigint): JsonValue {
  const space = spaceOf(x);
  if (space.type === 'integer' || end < spaceEnd(space)) return formatValue(space, end);
  const carry = familyOfType(space.type) === 'ipv4' ? '256.0.0.0' : '10000::';
  return isPrefixType(space.type) ? `${carry}/${space.delegate}` : carry;
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
  /** The largest block one allocation may ask for. */
  max_block_size: number;
  /** Integer pools: what the numbers are; null for a plain integer pool and for IP pools. */
  kind: IntegerKind | null;
  /** The namespace its values are unique in; null for the family's default scope. */
  scope: string | null;
  /** Which free value an automatic allocation takes. */
  allocation_order: AllocationOrder;
  /** Takes no new allocation (PATCH /v1/pools/{pool} with "disabled"); lookups, releases and imports still work. */
  disabled: boolean;
  /** Prefix pools only: the length of every value. */
  delegate_prefix_len?: number;
}


export function poolJson(p: PoolCounts): PoolJson {
  const space = { type: p.type, delegate: p.delegate };
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
    min: formatValue(space, first?.start ?? 0n),
    max: formatValue(space, (last?.end ?? 1n) - 1n),
    ranges: rangesJson(space, runs),
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    max_block_size: p.maxBlockSize,
    kind: p.kind ?? null,
    scope: p.scope ?? null,
    allocation_order: p.order ?? DEFAULT_ALLOCATION_ORDER,
    disabled: p.disabled,
    ...(p.delegate === undefined ? {} : { delegate_prefix_len: p.delegate }),
  };
}

export interface AllocationJson {
  pool: string;
  value: JsonValue;
  owner: string;
  allocated_at: string;
  /** Values held: 1, or a block's size. */
  size: number;
  labels: Record<string, string>;
  /** Who allocated it: an IAM principal ARN behind API Gateway, "local" on the local stack. */
  allocated_by: string | null;
  /** When its lease runs out; null without a lease. */
  expires_at: string | null;
}

export function allocationJson(a: Allocation): AllocationJson {
  return {
    pool: a.pool,
    value: formatValue({ type: a.type, delegate: a.delegate }, a.value, a.size),
    owner: a.owner,
    allocated_at: a.allocatedAt,
    size: a.size,
    labels: { ...a.labels },
    allocated_by: a.allocatedBy ?? null,
    expires_at: a.expiresAt ?? null,
  };
}

export interface HistoryEntryJson {
  pool: string;
  value: JsonValue;
  size: number;
  owner: string;
  event: HistoryEvent;
  at: string;
  /** Who did it: an IAM principal ARN behind API Gateway, "local", "startup" or "config-sync". */
  by: string;
  request_id: string;
  labels: Record<string, string>;
}

export function historyJson(e: HistoryEntry): HistoryEntryJson {
  return {
    pool: e.pool,
    value: formatValue({ type: e.type, delegate: e.delegate }, e.value, e.size),
    size: e.size,
    owner: e.owner,
    event: e.event,
    at: e.at,
    by: e.by,
    request_id: e.requestId,
    labels: { ...e.labels },
  };
}

/**
 * `owner`: 1-256 characters of printable ASCII without spaces (`!` to `~`), except `/ ? # % \`, and
 * not `.` or `..`: every owner can then be written as one path segment (`…/owners/{owner}`), even
 * through API Gateway, which percent-decodes the path before the function sees it. The class below is
 * `!` to `~` without `#` (0x23), `%` (0x25), `/` (0x2f), `?` (0x3f) and `\` (0x5c).
 */
export const OWNER_PATTERN = /^(?!\.\.?$)[!"$&-.0->@-[\]-~]{1,256}$/;
export const OWNER_RULE = '1-256 characters of printable ASCII without spaces (! to ~), except / ? # % and \\, and not "." or ".."';
