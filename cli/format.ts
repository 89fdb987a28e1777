/**
 * How the CLI writes values, blocks and pool use for people: counts with separators, percentages that
 * never round up to 100%, a block as its CIDR or first-last values with its size, and the use markers
 * (and, on a terminal only, the bar and colours) of `list`. --json never goes through here.
 */
import type { AllocationJson, PoolJson } from '../lib/shapes.js';

export const count = (n: number) => n.toLocaleString('en-US');

/**
 * `used` of `size` in percent, one decimal, never rounded up: a pool shows 100% only when it is full,
 * and one used value in a large pool shows as `<0.1%`, not `0%`.
 */
export function percent(used: number, size: number): string {
  if (size <= 0 || used <= 0) return '0%';
  const tenths = Math.floor((used * 1000) / size);
  if (tenths === 0) return '<0.1%';
  return `${tenths % 10 === 0 ? tenths / 10 : (tenths / 10).toFixed(1)}%`;
}

/** log2 of a power of two, else undefined. */
function log2(n: number): number | undefined {
  if (!Number.isSafeInteger(n) || n < 1) return undefined;
  const bits = Math.log2(n);
  return Number.isInteger(bits) ? bits : undefined;
}

const familyBits = (address: string) => (address.includes(':') ? 128 : 32);

/**
 * A value as a path segment names it: a block or a prefix-pool value by its first address
 * (`10.0.16.0/24` → `10.0.16.0`), since a `/` cannot travel inside a segment; anything else as it is.
 */
export function pathValue(value: number | string): number | string {
  return typeof value === 'string' ? value.replace(/\/\d+$/, '') : value;
}

/** The value column of an allocation: its value, or an integer block's first-last values. */
export function valueText(a: Pick<AllocationJson, 'value' | 'size'>): string {
  if (typeof a.value === 'number' && a.size > 1) return `${a.value}-${a.value + a.size - 1}`;
  return String(a.value);
}

/**
 * What a block holds: `256 values` for an address or integer block, `16 × /64` for a block of a prefix
 * pool (its values are prefixes: the CIDR's length plus log2 of the size is the delegated length).
 */
export function sizeText(a: Pick<AllocationJson, 'value' | 'size'>): string {
  const values = `${count(a.size)} value${a.size === 1 ? '' : 's'}`;
  if (typeof a.value !== 'string') return values;
  const match = /^(.*)\/(\d+)$/.exec(a.value);
  const bits = log2(a.size);
  if (!match || bits === undefined) return values;
  const delegate = Number(match[2]) + bits;
  return delegate === familyBits(match[1]) ? values : `${count(a.size)} × /${delegate}`;
}

/** An allocation for a sentence: `10.0.16.0/24 (256 values)`, `2024704-2024719 (16 values)`, `10.0.0.5`. */
export function blockText(a: Pick<AllocationJson, 'value' | 'size'>): string {
  return a.size > 1 ? `${valueText(a)} (${sizeText(a)})` : valueText(a);
}

/** `show`'s "Max block": the count, and for address and prefix pools the CIDR length it amounts to. */
export function maxBlockText(p: Pick<PoolJson, 'type' | 'max_block_size' | 'delegate_prefix_len'>): string {
  const values = `${count(p.max_block_size)} value${p.max_block_size === 1 ? '' : 's'}`;
  const bits = log2(p.max_block_size);
  if (p.type === 'integer' || bits === undefined) return values;
  const longest = p.delegate_prefix_len ?? (p.type === 'ipv4' ? 32 : 128);
  return `${values} (a /${longest - bits})`;
}

/** At or over this share used, `list` flags a pool HIGH. */
export const HIGH_USE = 0.8;

export type UseMarker = 'FULL' | 'HIGH' | undefined;

/** FULL when no value is free, HIGH from 80% used; computed on counts, so 80% is exactly 80%. */
export function useMarker(p: Pick<PoolJson, 'size' | 'used' | 'free'>): UseMarker {
  if (p.size > 0 && p.free <= 0) return 'FULL';
  if (p.size > 0 && p.used * 5 >= p.size * 4) return 'HIGH';
  return undefined;
}

export interface Style {
  /** Draw a bar (stdout is a terminal). */
  bar: boolean;
  /** Colour the bar and the markers (a terminal, and NO_COLOR unset or empty). */
  color: boolean;
}

/** What stdout can show: pipes and files get plain text, so scripts see the same bytes every time. */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const tty = stream.isTTY === true;
  // https://no-color.org: present and not empty.
  return { bar: tty, color: tty && !env.NO_COLOR };
}

const BAR_CELLS = 10;
const ANSI = { red: '\u001b[31m', yellow: '\u001b[33m', reset: '\u001b[0m' };

/** `list`'s Used cell: `N (P%)`, the marker, and on a terminal a ten-cell bar, coloured unless NO_COLOR. */
export function usedCell(p: Pick<PoolJson, 'size' | 'used' | 'free'>, style: Style): string {
  const marker = useMarker(p);
  const text = `${count(p.used)} (${percent(p.used, p.size)})`;
  const paint = (s: string) => (style.color && marker ? `${marker === 'FULL' ? ANSI.red : ANSI.yellow}${s}${ANSI.reset}` : s);
  const parts = [text];
  if (style.bar) {
    // Floor, as percent() does: the bar is full only when the pool is.
    const filled = p.size <= 0 ? 0 : Math.floor((Math.min(p.used, p.size) * BAR_CELLS) / p.size);
    parts.unshift(paint(`${'█'.repeat(filled)}${'░'.repeat(BAR_CELLS - filled)}`));
  }
  if (marker) parts.push(paint(marker));
  return parts.join(' ');
}
