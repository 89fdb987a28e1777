/**
 * Value math for the three pool types. Every value is a bigint inside the product so that an IPv6
 * range costs the same as a VLAN range; it only becomes a string or a JSON number at the edges.
 */
import { IPv4, IPv6, Validator } from 'ip-num';

export const POOL_TYPES = ['ipv4', 'ipv6', 'integer'] as const;
export type PoolType = (typeof POOL_TYPES)[number];

/** A value as it appears in JSON: a number for integer pools, a string for IP pools. */
export type JsonValue = number | string;

/** Integers are JSON numbers, so they stay below 2^53 to round-trip exactly. */
export const INTEGER_LIMIT = 2n ** 53n;
const IPV4_BITS = 32;
const IPV6_BITS = 128;

export function isPoolType(x: unknown): x is PoolType {
  return typeof x === 'string' && (POOL_TYPES as readonly string[]).includes(x);
}

/** All integer pools form one family, as do all IPv4 pools and all IPv6 pools. */
export function addressBits(type: 'ipv4' | 'ipv6'): number {
  return type === 'ipv4' ? IPV4_BITS : IPV6_BITS;
}

/** One past the largest value of the type's space. */
export function spaceEnd(type: PoolType): bigint {
  return type === 'integer' ? INTEGER_LIMIT : 1n << BigInt(addressBits(type));
}

/** What a value of this type looks like, for error messages. */
export function valueExample(type: PoolType): string {
  switch (type) {
    case 'ipv4':
      return 'an IPv4 address string such as "10.0.0.5"';
    case 'ipv6':
      return 'an IPv6 address string such as "2001:db8::5"';
    case 'integer':
      return 'a whole number 0 <= v < 2^53 (9007199254740992)';
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
 * without a dotted IPv4 tail (test/values.test.ts checks it agrees with ip-num); undefined otherwise.
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
 * or 0x hex; addresses as strings.
 */
export function parseConfigValue(type: PoolType, raw: unknown): Parsed<bigint> {
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
  if (typeof raw !== 'string') return fail(`expected ${valueExample(type)}; got ${describe(raw)}`);
  return parseAddress(type, raw);
}

function checkInteger(v: bigint, shown: string): Parsed<bigint> {
  if (v < 0n || v >= INTEGER_LIMIT) return fail(`${shown} is out of range; integer values must be 0 <= v < 2^53 (9007199254740992)`);
  return { ok: true, value: v };
}

/**
 * Parses a value as the HTTP API takes it: a JSON number for integer pools, a string for IP pools.
 */
export function parseJsonValue(type: PoolType, raw: unknown): Parsed<bigint> {
  if (type === 'integer') {
    if (typeof raw !== 'number' || !Number.isInteger(raw)) {
      return fail(`value must be ${valueExample(type)} as a JSON number; got ${describe(raw)}`);
    }
    return checkInteger(BigInt(raw), String(raw));
  }
  if (typeof raw !== 'string') return fail(`value must be ${valueExample(type)}; got ${describe(raw)}`);
  return parseAddress(type, raw);
}

/** Parses a value from a URL path segment (already percent-decoded). */
export function parsePathValue(type: PoolType, text: string): Parsed<bigint> {
  if (type === 'integer') {
    if (!/^[0-9]{1,16}$/.test(text)) return fail(`${quote(text)} is not ${valueExample(type)}`);
    return checkInteger(BigInt(text), text);
  }
  return parseAddress(type, text);
}

export function formatValue(type: PoolType, v: bigint): JsonValue {
  switch (type) {
    case 'integer':
      return Number(v);
    case 'ipv4':
      return formatIPv4(v);
    case 'ipv6':
      return formatIPv6(v);
  }
}

/** The value as text, whatever the type; for messages and CLI output. */
export function showValue(type: PoolType, v: bigint): string {
  return String(formatValue(type, v));
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

/** Fixed-width hex, so that DynamoDB sort keys order like the values. */
export function valueSortKey(type: PoolType, v: bigint): string {
  const width = type === 'integer' ? 14 : type === 'ipv4' ? 8 : 32;
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
export function parsePrefix(type: 'ipv4' | 'ipv6', text: string): Parsed<Prefix> {
  const family = type === 'ipv4' ? 'IPv4' : 'IPv6';
  const example = type === 'ipv4' ? '"10.180.62.0/26"' : '"2001:db8:0:1::/120"';
  const slash = text.indexOf('/');
  if (slash < 0) return fail(`${quote(text)} is not a CIDR prefix; expected an ${family} prefix such as ${example}`);
  const address = parseAddress(type, text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  const bits = addressBits(type);
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
export function prefixSpan(type: 'ipv4' | 'ipv6', p: Prefix): { start: bigint; end: bigint } {
  return { start: p.network, end: p.network + (1n << BigInt(addressBits(type) - p.length)) };
}

/**
 * The addresses a prefix pool holds: IPv4 drops network and broadcast except on /31 (RFC 3021) and
 * /32; IPv6 drops the all-zeros Subnet-Router anycast address except on /127 and /128.
 */
export function prefixHostRange(type: 'ipv4' | 'ipv6', p: Prefix): { start: bigint; end: bigint } {
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
