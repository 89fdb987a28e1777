/**
 * Integer kinds: what an integer pool's numbers are (VLAN IDs, VXLAN VNIs, BGP ASNs) and the domain
 * bounds that follow from it. The one place the bounds are written, for config validation,
 * registration, `plan` sizing and the Pool shape alike. Pure.
 */

export const INTEGER_KINDS = ['vlan', 'vni', 'asn'] as const;
export type IntegerKind = (typeof INTEGER_KINDS)[number];

export interface KindBounds {
  /** The lowest value of the kind, inclusive. */
  min: bigint;
  /** The highest value of the kind, inclusive. */
  max: bigint;
  /** What the numbers are, for messages. */
  what: string;
}

/**
 * 802.1Q reserves VLAN 0 and 4095; VNI 0 is not used by VXLAN and the field is 24 bits; ASN 0 is
 * reserved (RFC 7607) and 4-byte ASNs stop at 2^32-1.
 */
export const KIND_BOUNDS: Readonly<Record<IntegerKind, KindBounds>> = {
  vlan: { min: 1n, max: 4094n, what: 'VLAN IDs (802.1Q)' },
  vni: { min: 1n, max: 16_777_215n, what: 'VXLAN VNIs (24 bits)' },
  asn: { min: 1n, max: 4_294_967_295n, what: 'BGP ASNs (4 bytes)' },
};

export function isIntegerKind(x: unknown): x is IntegerKind {
  return typeof x === 'string' && (INTEGER_KINDS as readonly string[]).includes(x);
}

/** "1-4,094", as messages show a kind's bounds. */
export function kindRange(kind: IntegerKind): string {
  const b = KIND_BOUNDS[kind];
  return `${b.min.toLocaleString('en-US')}-${b.max.toLocaleString('en-US')}`;
}

/** How many values the kind's whole space holds. */
export function kindSpaceSize(kind: IntegerKind): bigint {
  const b = KIND_BOUNDS[kind];
  return b.max - b.min + 1n;
}

/** `"vlan" (values 1-4,094), "vni" (…), "asn" (…)`: the accepted kinds, for messages. */
export const KINDS_TEXT = INTEGER_KINDS.map((k) => `"${k}" (values ${kindRange(k)})`).join(', ');
