/**
 * Value math for the pool types. Every value is a bigint inside the product so that an IPv6 range costs
 * the same as a VLAN range; it only becomes a string or a JSON number at the edges. A prefix pool's
 * values are prefix numbers (the network address shifted right by the bits below the delegated
 * length): dense integers, so a /48 delegated as /64s is the 65,536 values 0x20010db80100 << 16 … like
 * any other 65,536-value pool.
 */
import { IPv4, IPv6, Validator } from 'ip-num';

export const POOL_TYPES = ['ipv4', 'ipv6', 'integer', 'ipv4-prefix', 'ipv6-prefix'] as const;
export type PoolType = (typeof POOL_TYPES)[number];
export type AddressFamily = 'ipv4' | 'ipv6';
export type PrefixType = 'ipv4-prefix' | 'ipv6-prefix';

/**
 * How a pool's values are read and written: its type, and for a prefix pool the length of every
 * value (`delegate_prefix_len`). Pools, allocations and definitions all carry both.
 */
export interface ValueSpace {
  readonly type: PoolType;
  readonly delegate?: number;
}

/** A pool type stands for its space where the type alone says it (every type but the prefix ones). */
export type SpaceLike = PoolType | ValueSpace;

export function spaceOf(s: SpaceLike): ValueSpace {
  return typeof s === 'string' ? { type: s } : s;
}

/** A value as it appears in JSON: a number for integer pools, a string for IP and prefix pools. */
export type JsonValue = number | string;

/** Integers are JSON numbers, so they stay below 2^53 to round-trip exactly. */
export const INTEGER_LIMIT = 2n ** 53n;
const IPV4_BITS = 32;
const IPV6_BITS = 128;

export function isPoolType(x: unknown): x is PoolType {
  return typeof x === 'string' && (POOL_TYPES as readonly string[]).includes(x);
}

export function isPrefixType(t: PoolType): t is PrefixType {
  return t === 'ipv4-prefix' || t === 'ipv6-prefix';
}

/** The addresses a type's values are made of; undefined for integer pools. */
export function familyOfType(t: PoolType): AddressFamily | undefined {
  if (t === 'ipv4' || t === 'ipv4-prefix') return 'ipv4';
  if (t === 'ipv6' || t === 'ipv6-prefix') return 'ipv6';
  return undefined;
}

export function addressBits(type: AddressFamily | PrefixType): number {
  return familyOfType(type) === 'ipv4' ? IPV4_BITS : IPV6_BITS;
}

/** A prefix pool's delegate length, which its values cannot be read or written without. */
export function delegateOf(s: ValueSpace): number {
  if (s.delegate === undefined) throw new Error(`a ${s.type} pool's values need its delegate_prefix_len`);
  return s.delegate;
}

/** Bits between a prefix pool's value (a prefix number) and its network address. */
export function prefixShift(s: ValueSpace): bigint {
  return BigInt(addressBits(s.type as PrefixType) - delegateOf(s));
}

/** One past the largest value of the space. */
export function spaceEnd(x: SpaceLike): bigint {
  const s = spaceOf(x);
  if (s.type === 'integer') return INTEGER_LIMIT;
  if (isPrefixType(s.type)) return 1n << BigInt(delegateOf(s));
  return 1n << BigInt(addressBits(s.type));
}

/** The addresses a run of values covers: a prefix pool's prefix numbers become address runs. */
export function addressRun(s: ValueSpace, run: { start: bigint; end: bigint }): { start: bigint; end: bigint } {
  if (!isPrefixType(s.type)) return run;
  const shift = prefixShift(s);
  return { start: run.start << shift, end: run.end << shift };
}

/** What a value of this type looks like, for error messages. */
export function valueExample(x: SpaceLike): string {
  const s = spaceOf(x);
  switch (s.type) {
    case 'ipv4':
      return 'an IPv4 address string such as "10.0.0.5"';
    case 'ipv6':
      return 'an IPv6 address string such as "2001:db8::5"';
    case 'integer':
      return 'a whole number 0 <= v < 2^53 (9007199254740992)';
    case 'ipv4-prefix':
      return `an IPv4 prefix string of length ${s.delegate ?? 'delegate_prefix_len'} such as "10.244.1.0/${s.delegate ?? 26}"`;
    case 'ipv6-prefix':
      return `an IPv6 prefix string of length ${s.delegate ?? 'delegate_prefix_len'} such as "2001:db8:100:5::/${s.delegate ?? 64}"`;
  }
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };
const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

export function parseAddress(type: 'ipv4' | 'ipv6', text: string): Parsed<bigint> {
  // The usual forms are read here, 10-20 times faster than ip-num, which a 1 MiB file of addresses
  // would spend most of its check in; anything else, errors included, is ip-num's to judge.
  const quick = type === 'ipv4' ? quickIPv4(text) : quickIPv6(text);
  if (quick !== undefined) return { ok: true, value: quick };
  if (type === 'ipv4') {
    if (!Validator.isValidIPv4String(text)[0]) {
      return fail(`${quote(text)} is not an IPv4 address; expected dotted decimal such as "10.0.0.5"`);
    }
    return { ok: true, value: IPv4.fromString(text).value };
  }
  // ip-num accepts zone identifiers ("fe80::1%eth0"); a pool value never has one.
  if (text.includes('%') || !Validator.isValidIPv6String(text)[0]) {
    return fail(`${quote(text)} is not an IPv6 address; expected a form such as "2001:db8::5"`);
  }
  return { ok: true, value: IPv6.fromString(text).value };
}

/** Dotted decimal, each part 0-255 without leading zeros: exactly what ip-num accepts as IPv4. */
const IPV4_TEXT = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

function quickIPv4(text: string): bigint | undefined {
  const m = IPV4_TEXT.exec(text);
  if (!m) return undefined;
  return BigInt(((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0);
}

const HEXTET = /^[0-9A-Fa-f]{1,4}$/;

/** Groups of 1-4 hex digits separated by single colons; [] for ''. */
function hextets(text: string): number[] | undefined {
  if (text === '') return [];
  const groups = text.split(':');
  const out: number[] = [];
  for (const g of groups) {
    if (!HEXTET.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

/**
 * Eight groups of hex digits, or fewer with one "::" standing for at least one zero group: the forms
 * without a dotted IPv4 tail (test/unit/values.test.ts checks it agrees with ip-num); undefined otherwise.
 */
function quickIPv6(text: string): bigint | undefined {
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap < 0) {
    const all = hextets(text);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  } else {
    if (text.includes('::', gap + 1)) return undefined;
    const head = hextets(text.slice(0, gap));
    const tail = hextets(text.slice(gap + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/**
 * Parses a value as the config file gives it: integers as TOML integers or strings of decimal digits
 * or 0x hex; addresses as strings; a prefix pool's values as prefixes of exactly its delegate length.
 */
export function parseConfigValue(x: SpaceLike, raw: unknown): Parsed<bigint> {
  const s = spaceOf(x);
  const type = s.type;
  if (type === 'integer') {
    if (typeof raw === 'bigint') return checkInteger(raw, String(raw));
    if (typeof raw === 'number') {
      if (!Number.isInteger(raw)) return fail(`${raw} is not a whole number; expected ${valueExample(type)}`);
      return checkInteger(BigInt(raw), String(raw));
    }
    if (typeof raw === 'string') {
      if (/^[0-9]+$/.test(raw) || /^0x[0-9a-fA-F]+$/.test(raw)) return checkInteger(BigInt(raw), quote(raw));
      return fail(`${quote(raw)} is not an integer; expected decimal digits ("2024500") or 0x hex ("0x2000000")`);
    }
    return fail(`expected ${valueExample(type)}, as a TOML integer or a string of decimal digits or 0x hex; got ${describe(raw)}`);
  }
  if (typeof raw !== 'string') return fail(`expected ${valueExample(s)}; got ${describe(raw)}`);
  if (isPrefixType(type)) return parsePrefixValue(s, raw);
  return parseAddress(type, raw);
}

/** A prefix pool's value: a canonical prefix of exactly the pool's delegate length, as its prefix number. */
export function parsePrefixValue(s: ValueSpace, text: string): Parsed<bigint> {
  const family = familyOfType(s.type) as AddressFamily;
  const delegate = delegateOf(s);
  if (!text.includes('/')) {
    const address = parseAddress(family, text);
    if (address.ok) return fail(`${quote(text)} is an address; values of this pool are /${delegate} prefixes, such as ${quote(`${showValue(family, address.value)}/${delegate}`)}`);
  }
  const p = parsePrefix(family, text);
  if (!p.ok) return p;
  if (p.value.length !== delegate) return fail(`${quote(text)} is a /${p.value.length}; values of this pool are /${delegate} prefixes, such as ${quote(`${showValue(family, p.value.network)}/${delegate}`)}`);
  return { ok: true, value: p.value.network >> prefixShift(s) };
}

function checkInteger(v: bigint, shown: string): Parsed<bigint> {
  if (v < 0n || v >= INTEGER_LIMIT) return fail(`${shown} is out of range; integer values must be 0 <= v < 2^53 (9007199254740992)`);
  return { ok: true, value: v };
}

/**
 * Parses a value as the HTTP API takes it: a JSON number for integer pools, a string for IP pools, a
 * CIDR string for prefix pools.
 */
export function parseJsonValue(x: SpaceLike, raw: unknown): Parsed<bigint> {
  const s = spaceOf(x);
  if (s.type === 'integer') {
    if (typeof raw !== 'number' || !Number.isInteger(raw)) {
      return fail(`value must be ${valueExample(s)} as a JSON number; got ${describe(raw)}`);
    }
    return checkInteger(BigInt(raw), String(raw));
  }
  if (typeof raw !== 'string') return fail(`value must be ${valueExample(s)}; got ${describe(raw)}`);
  if (isPrefixType(s.type)) return parsePrefixValue(s, raw);
  return parseAddress(s.type, raw);
}

/**
 * Parses a value from a URL path segment (already percent-decoded). A prefix cannot travel in a path
 * segment (its `/`), so a prefix pool's value is named by an address: the prefix that holds it.
 */
export function parsePathValue(x: SpaceLike, text: string): Parsed<bigint> {
  const s = spaceOf(x);
  if (s.type === 'integer') {
    if (!/^[0-9]{1,16}$/.test(text)) return fail(`${quote(text)} is not ${valueExample(s)}`);
    return checkInteger(BigInt(text), text);
  }
  if (isPrefixType(s.type)) {
    const address = parseAddress(familyOfType(s.type) as AddressFamily, text);
    if (!address.ok) return fail(`${quote(text)} is not an address; in a path, a prefix is named by its first address, such as "2001:db8:100:5::"`);
    return { ok: true, value: address.value >> prefixShift(s) };
  }
  return parseAddress(s.type, text);
}

/**
 * A value (or, with `size` > 1, the block of `size` values starting at it) as JSON: a number for
 * integer pools (a block's first value), an address for one IP value, a CIDR for an IP block and for
 * every prefix pool value.
 */
export function formatValue(x: SpaceLike, v: bigint, size = 1): JsonValue {
  const s = spaceOf(x);
  switch (s.type) {
    case 'integer':
      return Number(v);
    case 'ipv4':
    case 'ipv6': {
      const address = s.type === 'ipv4' ? formatIPv4(v) : formatIPv6(v);
      return size === 1 ? address : `${address}/${addressBits(s.type) - Math.log2(size)}`;
    }
    case 'ipv4-prefix':
    case 'ipv6-prefix': {
      const family = familyOfType(s.type) as AddressFamily;
      const network = v << prefixShift(s);
      return `${family === 'ipv4' ? formatIPv4(network) : formatIPv6(network)}/${delegateOf(s) - Math.log2(size)}`;
    }
  }
}

/** The value as text, whatever the type; for messages and CLI output. */
export function showValue(x: SpaceLike, v: bigint, size = 1): string {
  return String(formatValue(x, v, size));
}

export function formatIPv4(v: bigint): string {
  const n = Number(v);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIPv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(v & 0xffffffffn)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Fixed-width hex, so that DynamoDB sort keys order like the values (a prefix number fits its family's width). */
export function valueSortKey(x: SpaceLike, v: bigint): string {
  const type = spaceOf(x).type;
  const width = type === 'integer' ? 14 : familyOfType(type) === 'ipv4' ? 8 : 32;
  return v.toString(16).padStart(width, '0');
}

export function valueFromSortKey(key: string): bigint {
  return BigInt(`0x${key}`);
}

export interface Prefix {
  /** The canonical text, e.g. "10.180.62.0/26". */
  cidr: string;
  network: bigint;
  length: number;
}

/** Parses a canonical CIDR of the given family; host bits set is an error naming the canonical form. */
export function parsePrefix(type: AddressFamily, text: string): Parsed<Prefix> {
  const family = type === 'ipv4' ? 'IPv4' : 'IPv6';
  const example = type === 'ipv4' ? '"10.180.62.0/26"' : '"2001:db8:0:1::/120"';
  const slash = text.indexOf('/');
  if (slash < 0) return fail(`${quote(text)} is not a CIDR prefix; expected an ${family} prefix such as ${example}`);
  const address = parseAddress(type, text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  const bits = addressBits(type);
  // A leading zero reads as octal to some tools (and `/024` as 24 to others): refused, with the reason.
  if (/^0[0-9]+$/.test(lengthText)) {
    const plain = String(Number(lengthText));
    return fail(
      `${quote(text)} has a prefix length with a leading zero ("/${lengthText}"); write the length in plain decimal digits without leading zeros, 0-${bits}${Number(plain) <= bits ? `, e.g. "${text.slice(0, slash)}/${plain}"` : ''}`,
    );
  }
  if (!address.ok || !/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > bits) {
    return fail(`${quote(text)} is not a valid ${family} prefix; expected an address and a length 0-${bits}, such as ${example}`);
  }
  const length = Number(lengthText);
  const hostBits = BigInt(bits - length);
  const network = (address.value >> hostBits) << hostBits;
  const cidr = `${showValue(type, network)}/${length}`;
  if (network !== address.value) {
    return fail(`${quote(text)} has host bits set; the canonical prefix is "${cidr}"`);
  }
  return { ok: true, value: { cidr, network, length } };
}

/** First and one-past-last address the prefix covers, network and broadcast included. */
export function prefixSpan(type: AddressFamily, p: Prefix): { start: bigint; end: bigint } {
  return { start: p.network, end: p.network + (1n << BigInt(addressBits(type) - p.length)) };
}

/**
 * The addresses a prefix pool holds: IPv4 drops network and broadcast except on /31 (RFC 3021) and
 * /32; IPv6 drops the all-zeros Subnet-Router anycast address except on /127 and /128.
 */
export function prefixHostRange(type: AddressFamily, p: Prefix): { start: bigint; end: bigint } {
  const { start, end } = prefixSpan(type, p);
  const bits = addressBits(type);
  if (p.length >= bits - 1) return { start, end };
  return type === 'ipv4' ? { start: start + 1n, end: end - 1n } : { start: start + 1n, end };
}

/**
 * Text from the input, cut to `max` characters: a message or path never carries a whole file's worth
 * of one value (a 1 MiB file can hold a 500 KB pool name), so errors and sync records stay small.
 */
export function clip(text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** Input quoted in a message: JSON-quoted, and clipped. */
export function quote(text: string, max = 100): string {
  return text.length <= max ? JSON.stringify(text) : `${JSON.stringify(`${text.slice(0, max)}…`)} (${text.length - max} more characters)`;
}

export function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'object') return 'a table';
  if (typeof raw === 'string') return `the string ${quote(raw)}`;
  if (typeof raw === 'bigint') return `the integer ${raw}`;
  return `${typeof raw} ${String(raw)}`;
}
