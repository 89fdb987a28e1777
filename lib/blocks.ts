/**
 * Blocks: an allocation of an aligned run of 2^k values instead of one, as AWS VPC IPAM allocates a
 * CIDR by netmask length and Calico or NV-IPAM give each node a block. The rules of a block request,
 * read once the pool's space is known (a /28 is 16 values of an IPv4 pool, a /60 sixteen values of a
 * pool delegating /64s). Pure: no I/O.
 */
import {
  addressBits,
  type AddressFamily,
  delegateOf,
  describe,
  familyOfType,
  isPrefixType,
  parseJsonValue,
  parsePrefix,
  type Parsed,
  prefixShift,
  showValue,
  spaceOf,
  type SpaceLike,
  type ValueSpace,
} from './values.js';

/** The block fields of an allocation request, as the client sent them (not yet checked against the pool's type). */
export interface BlockFields {
  prefix_length?: number;
  size?: number;
  /** The request's `value`: in IP and prefix pools, a CIDR names a block by itself. */
  value?: unknown;
}

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

function isPowerOfTwo(n: bigint): boolean {
  return n > 0n && (n & (n - 1n)) === 0n;
}

/** The longest prefix a block of this pool can be: one value. */
function longestLength(s: ValueSpace): number {
  return isPrefixType(s.type) ? delegateOf(s) : addressBits(s.type as AddressFamily);
}

/** The length of a CIDR `value`, when the value is one (IP and prefix pools). */
function cidrLength(raw: unknown): number | undefined {
  if (typeof raw !== 'string') return undefined;
  const slash = raw.indexOf('/');
  if (slash < 0) return undefined;
  const length = Number(raw.slice(slash + 1));
  return Number.isInteger(length) ? length : undefined;
}

/**
 * How many values the request asks for: 1 without block fields; `size` in integer pools (a power of
 * two); `prefix_length`, or the length of a CIDR `value`, in IP and prefix pools.
 */
export function requestedSize(x: SpaceLike, fields: BlockFields): Parsed<bigint> {
  const s = spaceOf(x);
  if (s.type === 'integer') {
    if (fields.prefix_length !== undefined) return fail(`prefix_length applies to IP and prefix pools; an integer pool takes size, a power of two such as 16`);
    if (fields.size === undefined) return { ok: true, value: 1n };
    const size = BigInt(fields.size);
    if (!isPowerOfTwo(size)) return fail(`size must be a power of two (1, 2, 4, … 4096); got ${describe(fields.size)}`);
    return { ok: true, value: size };
  }
  if (fields.size !== undefined) return fail(`size applies to integer pools; a ${s.type} pool takes prefix_length, such as ${exampleLength(s)}`);
  const longest = longestLength(s);
  const fromValue = cidrLength(fields.value);
  const length = fields.prefix_length ?? fromValue;
  if (length === undefined) return { ok: true, value: 1n };
  if (!Number.isInteger(length) || length < 0 || length > longest) {
    return fail(`prefix_length must be a whole number 0-${longest} in this pool (${lengthRule(s)}); got ${describe(length)}`);
  }
  if (fields.prefix_length !== undefined && fromValue !== undefined && fromValue !== fields.prefix_length) {
    return fail(`value ${describe(fields.value)} is a /${fromValue} but prefix_length asks for a /${fields.prefix_length}; give one of them, or the same length in both`);
  }
  return { ok: true, value: 1n << BigInt(longest - length) };
}

function exampleLength(s: ValueSpace): string {
  if (isPrefixType(s.type)) return `${Math.max(0, delegateOf(s) - 4)} (sixteen /${delegateOf(s)}s)`;
  return familyOfType(s.type) === 'ipv4' ? '28 (16 addresses)' : '120 (256 addresses)';
}

function lengthRule(s: ValueSpace): string {
  if (isPrefixType(s.type)) return `its values are /${delegateOf(s)} prefixes, so a block is a /${delegateOf(s)} or shorter`;
  return `a /${longestLength(s)} is one address`;
}

/**
 * An allocation request's `value`: a value as parseJsonValue reads it, or a block's first value,
 * which IP and prefix pools also take as the block's CIDR (`"10.0.16.0/24"`, `"2001:db8:100::/60"`).
 */
export function parseBlockValue(x: SpaceLike, raw: unknown): Parsed<bigint> {
  const s = spaceOf(x);
  const family = familyOfType(s.type);
  if (!family || typeof raw !== 'string' || !raw.includes('/')) return parseJsonValue(s, raw);
  const prefix = parsePrefix(family, raw);
  if (!prefix.ok) return prefix;
  if (!isPrefixType(s.type)) return { ok: true, value: prefix.value.network };
  if (prefix.value.length > delegateOf(s)) {
    return fail(`${JSON.stringify(raw)} is a /${prefix.value.length}; values of this pool are /${delegateOf(s)} prefixes, and a block is one of those or a shorter prefix`);
  }
  return { ok: true, value: prefix.value.network >> prefixShift(s) };
}

/** Whether a block of `size` values may start at `value`: blocks are aligned on their own size. */
export function alignment(x: SpaceLike, value: bigint, size: bigint): Parsed<bigint> {
  if (value % size === 0n) return { ok: true, value };
  const start = value - (value % size);
  return fail(`a block of ${blockLabel(x, size)} starts at a multiple of its size: ${showValue(x, value)} lies inside ${showValue(x, start, Number(size))}`);
}

/** A block's size as an operator reads it: "/24 (256 values)" in IP and prefix pools, "16 values" in integer pools. */
export function blockLabel(x: SpaceLike, size: bigint): string {
  const s = spaceOf(x);
  const values = `${size.toLocaleString('en-US')} value${size === 1n ? '' : 's'}`;
  if (s.type === 'integer') return values;
  return `/${longestLength(s) - log2(size)} (${values})`;
}

/** A block size as messages name it: "/24" in IP and prefix pools, "block of 16 values" in integer pools. */
export function blockName(x: SpaceLike, size: bigint): string {
  const s = spaceOf(x);
  return s.type === 'integer' ? `block of ${size.toLocaleString('en-US')} values` : `/${longestLength(s) - log2(size)}`;
}

export function log2(size: bigint): number {
  return size.toString(2).length - 1;
}
