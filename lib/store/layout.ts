/**
 * How a pool's values map onto chunks of a free bitmap. Pure arithmetic: no I/O, no AWS.
 *
 * Every run a registration adds becomes a segment. Segments are only ever appended, so a value's
 * place never moves once registered. Each segment is cut into chunks of `chunkBits` values (a power of
 * two) aligned in value space: chunk boundaries fall on multiples of `chunkBits`, so an aligned block
 * (a /24, 256 VNIs from a multiple of 256) lies in whole chunks or inside one. A chunk never spans two
 * segments, so it has one auto_assign flag; the first and last chunk of a segment may hold fewer
 * values than bits. Segments of small pools get small chunks, so that even a 1,024-value pool is
 * spread over 128 chunk items and concurrent allocations rarely meet on the same item.
 */
import { type FlaggedRun, normalizeFlagged, runSize } from '../runs.js';

export interface Segment {
  start: bigint;
  /** Exclusive. */
  end: bigint;
  autoAssign: boolean;
  /** Chunk number of the segment's first chunk. */
  firstChunk: number;
  /** Values per chunk: a power of two from MIN_CHUNK_BITS to MAX_CHUNK_BITS. */
  chunkBits: number;
  /**
   * Runs [start, end) of the segment that were retired: no longer values of the pool. Their bits stay
   * set in the chunks for good, so nothing can ever take them; a later file that adds them again
   * adds a new segment over them, with chunks of its own.
   */
  retired?: readonly ValueRun[];
}

export interface ValueRun {
  start: bigint;
  /** Exclusive. */
  end: bigint;
}

/** A run of values that a segment holds: the segment minus what was retired of it. */
interface Interval extends ValueRun {
  segment: number;
}

/** The segment's values, as runs between what was retired. */
function intervalsOf(s: Segment, segment: number): Interval[] {
  const out: Interval[] = [];
  let from = s.start;
  for (const r of [...(s.retired ?? [])].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    if (r.start > from) out.push({ start: from, end: r.start, segment });
    if (r.end > from) from = r.end;
  }
  if (from < s.end) out.push({ start: from, end: s.end, segment });
  return out;
}

export const MIN_CHUNK_BITS = 8;
/**
 * 16,384 bits is a 2 KB bitmap, for segments of more than 2^20 values only (a segment of up to 2^20
 * has chunks of at most 1,024 bits, 128 bytes, well under the 1 KB of one write unit): the largest
 * segment the store takes, 2^24 values, is still cut into 1,024 chunks, so that a block of 1/16 of
 * it spans 64 chunks.
 */
export const MAX_CHUNK_BITS = 16_384;
/** A segment is cut into at most about this many chunks when the chunk size limits allow it. */
export const TARGET_CHUNKS_PER_SEGMENT = 1024;
/**
 * The most chunks one block may span: its transaction writes each of them and the allocation record,
 * and a transaction holds at most 100 items. With at most TARGET_CHUNKS_PER_SEGMENT chunks per
 * segment this is 1/16 of a segment.
 */
export const MAX_BLOCK_CHUNKS = 64;

export function chunkBitsFor(size: bigint, targetChunks = TARGET_CHUNKS_PER_SEGMENT): number {
  const want = (size + BigInt(targetChunks) - 1n) / BigInt(targetChunks);
  let bits = MIN_CHUNK_BITS;
  while (bits < MAX_CHUNK_BITS && BigInt(bits) < want) bits *= 2;
  return bits;
}

/** The first value of the segment's first chunk: its start rounded down to a multiple of the chunk size. */
export function alignedStart(s: Segment): bigint {
  return s.start - (s.start % BigInt(s.chunkBits));
}

export function segmentChunks(s: Segment): number {
  const bits = BigInt(s.chunkBits);
  return Number((s.end - alignedStart(s) + bits - 1n) / bits);
}

export function chunkCountOf(segments: readonly Segment[]): number {
  const last = segments[segments.length - 1];
  return last ? last.firstChunk + segmentChunks(last) : 0;
}

/** Appends one segment per added run, after the existing ones. */
export function appendSegments(segments: readonly Segment[], added: readonly FlaggedRun[], targetChunks = TARGET_CHUNKS_PER_SEGMENT): Segment[] {
  const out = [...segments];
  let next = chunkCountOf(segments);
  for (const run of added) {
    const seg: Segment = { start: run.start, end: run.end, autoAssign: run.autoAssign, firstChunk: next, chunkBits: chunkBitsFor(run.end - run.start, targetChunks) };
    out.push(seg);
    next += segmentChunks(seg);
  }
  return out;
}

export interface Position {
  chunk: number;
  bit: number;
}

/** The part of a block that lies in one chunk: `count` bits from `bit`. */
export interface Piece extends Position {
  count: number;
}

/** log2 of the largest power-of-two run aligned on its own size that lies inside [start, end). */
export function largestAlignedOrder(start: bigint, end: bigint): number {
  let order = 0;
  for (let k = 1; k < 128; k++) {
    const size = 1n << BigInt(k);
    if (size > end - start) break;
    const first = ((start + size - 1n) / size) * size;
    if (first + size <= end) order = k;
  }
  return order;
}

/**
 * The largest block a segment serves: aligned inside it, and spanning at most MAX_BLOCK_CHUNKS of its
 * chunks (a block of up to one chunk spans one).
 */
export function segmentMaxBlock(s: Segment): bigint {
  const inside = 1n << BigInt(largestAlignedOrder(s.start, s.end));
  const spanned = BigInt(MAX_BLOCK_CHUNKS * s.chunkBits);
  return inside < spanned ? inside : spanned;
}

/** Segments that follow each other in value space, [start, end) in all. */
export interface SegmentRun {
  start: bigint;
  end: bigint;
  segments: Segment[];
}

/**
 * The largest block a run serves: aligned inside the run, spanning at most MAX_BLOCK_CHUNKS chunks
 * of its smallest chunk size (or what one of its segments serves alone, if more).
 */
export function runMaxBlock(r: SegmentRun): bigint {
  const inside = 1n << BigInt(largestAlignedOrder(r.start, r.end));
  const smallest = Math.min(...r.segments.map((s) => s.chunkBits));
  const spanned = BigInt(MAX_BLOCK_CHUNKS * smallest);
  const across = inside < spanned ? inside : spanned;
  return r.segments.reduce((m, s) => {
    const alone = segmentMaxBlock(s);
    return alone > m ? alone : m;
  }, across);
}

export interface ChunkInfo {
  chunk: number;
  segment: Segment;
  /** Index of the segment in the layout. */
  segmentIndex: number;
  /** The value of bit 0 (a multiple of the chunk size). */
  base: bigint;
  /** Valid bits are [from, to). */
  from: number;
  to: number;
}

/** Precomputed lookups over a pool's segments: value → chunk and bit, and chunk → segment. */
export class Layout {
  readonly segments: readonly Segment[];
  readonly chunkCount: number;
  readonly size: bigint;
  /** What each segment holds (without what was retired), in value order: they never overlap. */
  private readonly byValue: Interval[];

  constructor(segments: readonly Segment[]) {
    this.segments = segments;
    this.chunkCount = chunkCountOf(segments);
    this.byValue = segments.flatMap((s, i) => intervalsOf(s, i)).sort((a, b) => (a.start < b.start ? -1 : 1));
    this.size = runSize(this.byValue);
  }

  /** Index of the segment holding a value, by binary search over what the segments hold in value order. */
  segmentIndexOf(v: bigint): number {
    return this.intervalOf(v)?.segment ?? -1;
  }

  private intervalOf(v: bigint): Interval | undefined {
    let lo = 0;
    let hi = this.byValue.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.byValue[mid];
      if (v < s.start) hi = mid - 1;
      else if (v >= s.end) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  /** Whether a value was retired from the segment whose chunk holds it (its bit is set for good). */
  retiredAt(segment: number, v: bigint): boolean {
    return (this.segments[segment]?.retired ?? []).some((r) => v >= r.start && v < r.end);
  }

  locate(v: bigint): Position | undefined {
    const i = this.segmentIndexOf(v);
    if (i < 0) return undefined;
    const s = this.segments[i];
    const offset = v - alignedStart(s);
    const bits = BigInt(s.chunkBits);
    return { chunk: s.firstChunk + Number(offset / bits), bit: Number(offset % bits) };
  }

  chunk(chunk: number): ChunkInfo | undefined {
    const segmentIndex = this.segmentIndexOfChunk(chunk);
    if (segmentIndex < 0) return undefined;
    const segment = this.segments[segmentIndex];
    const bits = BigInt(segment.chunkBits);
    const base = alignedStart(segment) + BigInt(chunk - segment.firstChunk) * bits;
    const from = base < segment.start ? Number(segment.start - base) : 0;
    const to = segment.end - base < bits ? Number(segment.end - base) : segment.chunkBits;
    return { chunk, segment, segmentIndex, base, from, to };
  }

  /**
   * The chunks and bits a block of `size` values from `start` covers, in value order; undefined when
   * a value of it is not in the pool. A block may span segments (a range grown by a later file).
   */
  pieces(start: bigint, size: bigint): Piece[] | undefined {
    const end = start + size;
    const out: Piece[] = [];
    for (let v = start; v < end; ) {
      const held = this.intervalOf(v);
      if (!held) return undefined;
      const s = this.segments[held.segment];
      const bits = BigInt(s.chunkBits);
      const offset = v - alignedStart(s);
      const chunkEnd = v - (offset % bits) + bits;
      const upTo = [chunkEnd, held.end, end].reduce((m, x) => (x < m ? x : m));
      out.push({ chunk: s.firstChunk + Number(offset / bits), bit: Number(offset % bits), count: Number(upTo - v) });
      v = upTo;
    }
    return out;
  }

  /**
   * Runs of segments that follow each other in value space (a range, and what later files grew it
   * by): a block may span them. With `autoOnly`, only auto_assign segments, which random blocks use.
   */
  adjacentRuns(autoOnly = false): SegmentRun[] {
    const out: SegmentRun[] = [];
    for (const held of this.byValue) {
      const s = this.segments[held.segment];
      if (autoOnly && !s.autoAssign) continue;
      const last = out[out.length - 1];
      if (last && last.end === held.start) {
        last.end = held.end;
        if (!last.segments.includes(s)) last.segments.push(s);
      } else {
        out.push({ start: held.start, end: held.end, segments: [s] });
      }
    }
    return out;
  }

  /** The largest block the pool serves anywhere (1 for an empty pool): see runMaxBlock. */
  maxBlockSize(): bigint {
    return this.adjacentRuns().reduce((m, r) => {
      const b = runMaxBlock(r);
      return b > m ? b : m;
    }, 1n);
  }

  valueAt(pos: Position): bigint | undefined {
    const info = this.chunk(pos.chunk);
    if (!info || pos.bit < info.from || pos.bit >= info.to) return undefined;
    return info.base + BigInt(pos.bit);
  }

  /** The values as merged flagged runs, in value order: the pool's value set, whatever its history of grows. */
  runs(): FlaggedRun[] {
    return normalizeFlagged(this.byValue.map((h) => ({ start: h.start, end: h.end, autoAssign: this.segments[h.segment].autoAssign })));
  }

  autoAssignSize(): bigint {
    return runSize(this.byValue.filter((h) => this.segments[h.segment].autoAssign));
  }

  private segmentIndexOfChunk(chunk: number): number {
    if (!Number.isInteger(chunk) || chunk < 0 || chunk >= this.chunkCount) return -1;
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].firstChunk <= chunk) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
