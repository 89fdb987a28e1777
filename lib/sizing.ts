/**
 * Pool sizing for the `plan` command, after NICo's rules: every DPU needs a loopback (lo-ip = hosts ×
 * DPUs per host), and in the worst case every VPC reaches every DPU (vpc-dpu-lo = VPCs × DPUs).
 */

export interface SiteShape {
  hosts: number;
  dpusPerHost: number;
  vpcs: number;
  /** Extra room on top of the computed need, in percent. */
  headroomPercent?: number;
}

export interface PoolSizing {
  pool: string;
  /** How the need was computed, for humans. */
  formula: string;
  need: number;
  /** need plus headroom, rounded up. */
  withHeadroom: number;
  /** Smallest IPv4 prefix length that holds withHeadroom hosts; undefined for integer pools. */
  prefixLength?: number;
  /** How many values that prefix holds. */
  prefixHolds?: number;
}

export const DEFAULT_HEADROOM_PERCENT = 25;

export function planSite(shape: SiteShape): PoolSizing[] {
  const headroom = shape.headroomPercent ?? DEFAULT_HEADROOM_PERCENT;
  for (const [k, v] of Object.entries({ hosts: shape.hosts, dpusPerHost: shape.dpusPerHost, vpcs: shape.vpcs })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${k} must be a whole number >= 0; got ${v}`);
  }
  if (!Number.isFinite(headroom) || headroom < 0) throw new RangeError(`headroom must be a percent >= 0; got ${headroom}`);
  const dpus = shape.hosts * shape.dpusPerHost;
  const withRoom = (n: number) => Math.ceil((n * (100 + headroom)) / 100);
  const ipv4 = (pool: string, formula: string, need: number): PoolSizing => {
    const withHeadroom = withRoom(need);
    const prefixLength = smallestIPv4Prefix(withHeadroom);
    return { pool, formula, need, withHeadroom, prefixLength, prefixHolds: prefixLength === undefined ? undefined : ipv4PrefixHolds(prefixLength) };
  };
  return [
    ipv4('lo-ip', `${shape.hosts} hosts × ${shape.dpusPerHost} DPUs per host`, dpus),
    ipv4('vpc-dpu-lo', `${shape.vpcs} VPCs × ${dpus} DPUs (worst case)`, shape.vpcs * dpus),
    { pool: 'vpc-vni', formula: `${shape.vpcs} VPCs`, need: shape.vpcs, withHeadroom: withRoom(shape.vpcs) },
  ];
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
