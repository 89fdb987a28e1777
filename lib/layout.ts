/**
 * How a pool's values map onto chunks of a free bitmap. Pure arithmetic: no I/O, no AWS.
 *
 * Every run a registration adds becomes a segment. Segments are only ever appended, so a value's
 * place never moves once registered. Each segment is cut into chunks of `chunkBits` values (a power of
 * two); a chunk never spans two segments, so it has one auto_assign flag. Segments of small pools get
 * small chunks, so that even a 1,024-value pool is spread over 128 chunk items and concurrent
 * allocations rarely meet on the same item.
 */
import { type FlaggedRun, normalizeFlagged, runSize } from './runs.js';

export interface Segment {
  start: bigint;
  /** Exclusive. */
  end: bigint;
  autoAssign: boolean;
  /** Chunk number of the segment's first chunk. */
  firstChunk: number;
  /** Values per chunk: a power of two from MIN_CHUNK_BITS to MAX_CHUNK_BITS. */
  chunkBits: number;
}

export const MIN_CHUNK_BITS = 8;
/** 1,024 bits is a 128-byte bitmap: the chunk item stays well under the 1 KB of one write unit. */
export const MAX_CHUNK_BITS = 1024;
/** A segment is cut into at least this many chunks when the chunk size limits allow it. */
export const TARGET_CHUNKS_PER_SEGMENT = 1024;

export function chunkBitsFor(size: bigint, targetChunks = TARGET_CHUNKS_PER_SEGMENT): number {
  const want = (size + BigInt(targetChunks) - 1n) / BigInt(targetChunks);
  let bits = MIN_CHUNK_BITS;
  while (bits < MAX_CHUNK_BITS && BigInt(bits) < want) bits *= 2;
  return bits;
}

export function chunkCountOf(segments: readonly Segment[]): number {
  const last = segments[segments.length - 1];
  return last ? last.firstChunk + segmentChunks(last) : 0;
}

export function segmentChunks(s: Segment): number {
  return Number((s.end - s.start + BigInt(s.chunkBits) - 1n) / BigInt(s.chunkBits));
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

export interface ChunkInfo {
  segment: Segment;
  /** First value the chunk holds. */
  firstValue: bigint;
  /** How many of its bits are values (the last chunk of a segment may be partial). */
  validBits: number;
}

/**
 * Precomputed lookups over a pool's segments: value → chunk and bit, chunk → segment, and a dense
 * index over all values (0 .. size-1, in segment order) for callers that need one.
 */
export class Layout {
  readonly segments: readonly Segment[];
  readonly chunkCount: number;
  readonly size: bigint;
  private readonly byValue: Segment[];
  /** Dense index of each segment's first value, in segment order. */
  private readonly indexBase: bigint[];
  private readonly baseOf = new Map<Segment, bigint>();
  private readonly autoSegments: Segment[];
  /** Auto_assign chunks before each auto_assign segment, then their total. */
  private readonly autoChunkBase: number[] = [];

  constructor(segments: readonly Segment[]) {
    this.segments = segments;
    this.chunkCount = chunkCountOf(segments);
    this.byValue = [...segments].sort((a, b) => (a.start < b.start ? -1 : 1));
    let base = 0n;
    this.indexBase = segments.map((s) => {
      const b = base;
      this.baseOf.set(s, b);
      base += s.end - s.start;
      return b;
    });
    this.size = base;
    this.autoSegments = segments.filter((s) => s.autoAssign);
    let autoChunks = 0;
    for (const s of this.autoSegments) {
      this.autoChunkBase.push(autoChunks);
      autoChunks += segmentChunks(s);
    }
    this.autoChunkBase.push(autoChunks);
  }

  /** The segment holding a value, found by binary search over segments in value order. */
  segmentOf(v: bigint): Segment | undefined {
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

  locate(v: bigint): Position | undefined {
    const s = this.segmentOf(v);
    if (!s) return undefined;
    const offset = v - s.start;
    const bits = BigInt(s.chunkBits);
    return { chunk: s.firstChunk + Number(offset / bits), bit: Number(offset % bits) };
  }

  chunk(chunk: number): ChunkInfo | undefined {
    const i = this.segmentIndexOfChunk(chunk);
    if (i < 0) return undefined;
    const segment = this.segments[i];
    const firstValue = segment.start + BigInt(chunk - segment.firstChunk) * BigInt(segment.chunkBits);
    const left = segment.end - firstValue;
    const validBits = left < BigInt(segment.chunkBits) ? Number(left) : segment.chunkBits;
    return { segment, firstValue, validBits };
  }

  valueAt(pos: Position): bigint | undefined {
    const info = this.chunk(pos.chunk);
    if (!info || pos.bit < 0 || pos.bit >= info.validBits) return undefined;
    return info.firstValue + BigInt(pos.bit);
  }

  /** Dense index of a value: 0 .. size-1. */
  indexOf(v: bigint): bigint | undefined {
    const s = this.segmentOf(v);
    if (!s) return undefined;
    return (this.baseOf.get(s) ?? 0n) + (v - s.start);
  }

  valueOfIndex(index: bigint): bigint | undefined {
    if (index < 0n || index >= this.size) return undefined;
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.indexBase[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo].start + (index - this.indexBase[lo]);
  }

  /** How many chunks hold auto_assign values: the chunks a random allocation chooses from. */
  autoChunkCount(): number {
    return this.autoChunkBase[this.autoChunkBase.length - 1] ?? 0;
  }

  /** The i-th (0-based) auto_assign chunk, counting through segments in chunk order. */
  autoChunkAt(i: number): number | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.autoChunkCount()) return undefined;
    const auto = this.autoSegments;
    let lo = 0;
    let hi = auto.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.autoChunkBase[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return auto[lo].firstChunk + (i - this.autoChunkBase[lo]);
  }

  /** The values as merged flagged runs, in value order: the pool's value set, whatever its history of grows. */
  runs(): FlaggedRun[] {
    return normalizeFlagged(this.byValue.map((s) => ({ start: s.start, end: s.end, autoAssign: s.autoAssign })));
  }

  autoAssignSize(): bigint {
    return runSize(this.segments.filter((s) => s.autoAssign));
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
