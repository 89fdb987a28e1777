/**
 * Pool sizing for the `plan` command, after NICo's rules: every DPU needs a loopback (lo-ip = hosts ×
 * DPUs per host), and in the worst case every VPC reaches every DPU (vpc-dpu-lo = VPCs × DPUs); every
 * VPC needs a VNI (vpc-vni, kind "vni"). A proposal is always one the service would accept: a pool
 * over MAX_POOL_SIZE is proposed as several pools, and when no proposal fits the limits (the IPv4
 * space, the VNI space, the number of pools) the sizing says which limit it hit instead.
 */
import { type IntegerKind, KIND_BOUNDS, kindRange, kindSpaceSize } from './kinds.js';
import { DEFAULT_MAX_POOL_SIZE, MAX_POOL_SIZE_CEILING, MAX_POOLS } from './plan.js';

export interface SiteShape {
  hosts: number;
  dpusPerHost: number;
  vpcs: number;
  /** Extra room on top of the computed need, in percent. */
  headroomPercent?: number;
  /** The largest pool the service accepts; DEFAULT_MAX_POOL_SIZE when absent. */
  maxPoolSize?: number;
}

/** Several pools of equal shape that together hold what one pool over MAX_POOL_SIZE would. */
export interface Split {
  pools: number;
  /** IPv4: each pool is one prefix of this length. */
  prefixLength?: number;
  valuesEach: number;
  valuesTotal: number;
}

export interface PoolSizing {
  pool: string;
  type: 'ipv4' | 'integer';
  kind?: IntegerKind;
  /** How the need was computed, for humans. */
  formula: string;
  need: number;
  /** need plus headroom, rounded up. */
  withHeadroom: number;
  /** Smallest IPv4 prefix length that holds withHeadroom hosts; undefined for integer pools and past /0. */
  prefixLength?: number;
  /** How many values that prefix holds. */
  prefixHolds?: number;
  /** One pool holds withHeadroom within MAX_POOL_SIZE: the proposal is that pool. */
  fits: boolean;
  /** When one pool would be over MAX_POOL_SIZE: the pools to create instead. */
  split?: Split;
  /** The smallest MAX_POOL_SIZE under which one pool would do, when an operator may set it (≤ 2^24). */
  raiseTo?: number;
  /** Why nothing can be proposed: the limit the need runs into. */
  limit?: string;
}

export const DEFAULT_HEADROOM_PERCENT = 25;

const IPV4_ADDRESSES = 2 ** 32;

const n = (x: number | bigint) => x.toLocaleString('en-US');
const values = (x: number) => `${n(x)} value${x === 1 ? '' : 's'}`;

export function planSite(shape: SiteShape): PoolSizing[] {
  const headroom = shape.headroomPercent ?? DEFAULT_HEADROOM_PERCENT;
  const maxPoolSize = shape.maxPoolSize ?? DEFAULT_MAX_POOL_SIZE;
  for (const [k, v] of Object.entries({ hosts: shape.hosts, dpusPerHost: shape.dpusPerHost, vpcs: shape.vpcs })) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${k} must be a whole number >= 0; got ${v}`);
  }
  if (!Number.isFinite(headroom) || headroom < 0) throw new RangeError(`headroom must be a percent >= 0; got ${headroom}`);
  if (!Number.isInteger(maxPoolSize) || maxPoolSize < 1 || maxPoolSize > MAX_POOL_SIZE_CEILING) {
    throw new RangeError(`the largest pool must be a whole number from 1 to ${n(MAX_POOL_SIZE_CEILING)}; got ${maxPoolSize}`);
  }
  const dpus = shape.hosts * shape.dpusPerHost;
  const withRoom = (x: number) => Math.ceil((x * (100 + headroom)) / 100);
  return [
    ipv4Sizing('lo-ip', `${n(shape.hosts)} hosts × ${n(shape.dpusPerHost)} DPUs per host`, dpus, withRoom(dpus), maxPoolSize),
    ipv4Sizing('vpc-dpu-lo', `${n(shape.vpcs)} VPCs × ${n(dpus)} DPUs (worst case)`, shape.vpcs * dpus, withRoom(shape.vpcs * dpus), maxPoolSize),
    integerSizing('vpc-vni', 'vni', `${n(shape.vpcs)} VPCs`, shape.vpcs, withRoom(shape.vpcs), maxPoolSize),
  ];
}

function raiseTo(size: number, maxPoolSize: number): number | undefined {
  return size > maxPoolSize && size <= MAX_POOL_SIZE_CEILING ? size : undefined;
}

function ipv4Sizing(pool: string, formula: string, need: number, withHeadroom: number, maxPoolSize: number): PoolSizing {
  const prefixLength = smallestIPv4Prefix(withHeadroom);
  const base = { pool, type: 'ipv4' as const, formula, need, withHeadroom, prefixLength, prefixHolds: prefixLength === undefined ? undefined : ipv4PrefixHolds(prefixLength) };
  if (base.prefixHolds !== undefined && base.prefixHolds <= maxPoolSize) return { ...base, fits: true };
  if (withHeadroom > IPV4_ADDRESSES) {
    return { ...base, fits: false, limit: `${n(withHeadroom)} addresses do not fit in IPv4 (${n(IPV4_ADDRESSES)} addresses in all)` };
  }
  // The shortest prefix whose pool stays within MAX_POOL_SIZE, as many of them as the need takes.
  let each = 32;
  while (each > 0 && ipv4PrefixHolds(each - 1) <= maxPoolSize) each--;
  const holds = ipv4PrefixHolds(each);
  const pools = Math.ceil(withHeadroom / holds);
  const raise = base.prefixHolds === undefined ? undefined : raiseTo(base.prefixHolds, maxPoolSize);
  if (pools * 2 ** (32 - each) > IPV4_ADDRESSES) {
    return { ...base, fits: false, raiseTo: raise, limit: `${n(pools)} pools of a /${each} would need more than the ${n(IPV4_ADDRESSES)} addresses of IPv4` };
  }
  if (pools > MAX_POOLS) {
    return { ...base, fits: false, raiseTo: raise, limit: `it would take ${n(pools)} pools of a /${each}, more than the ${n(MAX_POOLS)} pools the service holds` };
  }
  return { ...base, fits: false, raiseTo: raise, split: { pools, prefixLength: each, valuesEach: holds, valuesTotal: pools * holds } };
}

function integerSizing(pool: string, kind: IntegerKind, formula: string, need: number, withHeadroom: number, maxPoolSize: number): PoolSizing {
  const base = { pool, type: 'integer' as const, kind, formula, need, withHeadroom };
  const space = kindSpaceSize(kind);
  if (BigInt(withHeadroom) > space) {
    return { ...base, fits: false, limit: `${n(withHeadroom)} values do not fit in kind "${kind}" (${KIND_BOUNDS[kind].what}: ${kindRange(kind)}, ${n(space)} values)` };
  }
  if (withHeadroom <= maxPoolSize) return { ...base, fits: true };
  const pools = Math.ceil(withHeadroom / maxPoolSize);
  const raise = raiseTo(withHeadroom, maxPoolSize);
  if (pools > MAX_POOLS) {
    return { ...base, fits: false, raiseTo: raise, limit: `it would take ${n(pools)} pools, more than the ${n(MAX_POOLS)} pools the service holds` };
  }
  const valuesEach = Math.ceil(withHeadroom / pools);
  return { ...base, fits: false, raiseTo: raise, split: { pools, valuesEach, valuesTotal: pools * valuesEach } };
}

/** Hosts an IPv4 prefix holds once network and broadcast are excluded (/31 and /32 keep both). */
export function ipv4PrefixHolds(length: number): number {
  if (length === 32) return 1;
  if (length === 31) return 2;
  return 2 ** (32 - length) - 2;
}

/** The longest prefix length (smallest prefix) holding at least `count` hosts; undefined past /0. */
export function smallestIPv4Prefix(count: number): number | undefined {
  for (let length = 32; length >= 0; length--) if (ipv4PrefixHolds(length) >= count) return length;
  return undefined;
}

/** One line saying what to do instead of a pool that cannot be one pool; undefined when it fits. */
export function sizingAdvice(s: PoolSizing, maxPoolSize: number, setting: string): string | undefined {
  if (s.fits) return undefined;
  const single = s.prefixLength === undefined ? values(s.withHeadroom) : `a /${s.prefixLength} (${values(s.prefixHolds ?? 0)})`;
  const raise = s.raiseTo === undefined ? '' : `, or raise ${setting} to ${n(s.raiseTo)} (at most ${n(MAX_POOL_SIZE_CEILING)}) and keep one pool`;
  if (s.limit !== undefined) return `${s.pool}: no proposal: ${s.limit}${raise}`;
  const split = s.split as Split;
  const shape = split.prefixLength === undefined ? `${values(split.valuesEach)} each` : `a /${split.prefixLength} each (${values(split.valuesEach)})`;
  const names = split.pools === 2 ? `${s.pool}-1 and ${s.pool}-2` : `${s.pool}-1 … ${s.pool}-${split.pools}`;
  return `${s.pool}: one pool of ${single} is over ${setting} (${n(maxPoolSize)}): use ${n(split.pools)} pools of ${shape}, ${n(split.valuesTotal)} in all (e.g. ${names})${raise}`;
}
