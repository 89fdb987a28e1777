/**
 * Looking for a free block larger than a chunk: windows of aligned blocks, each read with one query
 * over its consecutive chunks (two where it crosses into a segment a later file added; a
 * never-written chunk is wholly free), starting at a random window of the pool and going round once. The room index cannot answer this: it lists chunks with room, not
 * the never-written ones, and a multi-chunk block needs every one of its chunks wholly free. A round
 * that finds nothing has read every chunk of the segments concerned: "none" is then certain.
 */
import { allClear, emptyBitmap, getBit } from './bitmap.js';
import type { StoreContext } from './context.js';
import { type ChunkItem, decodeChunk } from './items.js';
import { chunkFromSk, chunkSk, poolPk } from './keys.js';
import { largestAlignedOrder, type Layout, MAX_BLOCK_CHUNKS, type Piece } from './layout.js';
import type { Budget } from './pacing.js';
import type { PoolView } from './pool-view.js';

/** Consecutive chunks one window reads: about 16 KB of 1,024-bit chunk items, four read units. */
const WINDOW_CHUNKS = 64;

/** Aligned blocks of one run of adjacent segments, `count` of them from `first`. */
interface RunBlocks {
  first: bigint;
  count: number;
  /** Blocks per window. */
  perWindow: number;
}

/** A window as read: its chunks (undefined for a never-written one) and its blocks. */
export interface BlockWindow {
  items: Map<number, ChunkItem | undefined>;
  starts: bigint[];
}

/**
 * The runs of adjacent auto_assign segments (a range and what later files grew it by) whose aligned
 * blocks of `size` span several chunks. Blocks that fit in a chunk are the room index's to find.
 */
export function multiChunkRuns(layout: Layout, size: bigint): RunBlocks[] {
  const order = size.toString(2).length - 1;
  return layout.adjacentRuns(true).flatMap((run) => {
    const smallest = Math.min(...run.segments.map((s) => s.chunkBits));
    const largest = Math.max(...run.segments.map((s) => s.chunkBits));
    if (BigInt(largest) >= size && run.segments.length === 1) return [];
    if (largestAlignedOrder(run.start, run.end) < order || size / BigInt(largest) > BigInt(MAX_BLOCK_CHUNKS)) return [];
    const first = ((run.start + size - 1n) / size) * size;
    const count = Number((run.end - first) / size);
    const chunksPerBlock = Number((size + BigInt(smallest) - 1n) / BigInt(smallest));
    return [{ first, count, perWindow: Math.max(1, Math.floor(WINDOW_CHUNKS / chunksPerBlock)) }];
  });
}

/** The windows of the runs, in order: (run, first block index) pairs. */
function windowsOf(runs: readonly RunBlocks[]): { blocks: RunBlocks; from: number }[] {
  return runs.flatMap((blocks) => Array.from({ length: Math.ceil(blocks.count / blocks.perWindow) }, (_, w) => ({ blocks, from: w * blocks.perWindow })));
}

/** Chunk numbers as runs of consecutive ones: each is read with one query. */
function consecutive(chunks: readonly number[]): [number, number][] {
  const sorted = [...new Set(chunks)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === c - 1) last[1] = c;
    else out.push([c, c]);
  }
  return out;
}

/**
 * Goes round the windows once from a random one; `next` reads the next window (undefined when the
 * round is over). A window may be read again by `reread` after a conflict.
 */
export class BlockSearch {
  private readonly windows: { blocks: RunBlocks; from: number }[];
  private readonly first: number;
  private read = 0;

  constructor(
    private readonly ctx: StoreContext,
    private readonly view: PoolView,
    private readonly size: bigint,
    random: () => number,
  ) {
    this.windows = windowsOf(multiChunkRuns(view.layout, size));
    this.first = Math.floor(random() * this.windows.length);
  }

  get empty(): boolean {
    return this.windows.length === 0;
  }

  async next(budget: Budget): Promise<BlockWindow | undefined> {
    if (this.read >= this.windows.length) return undefined;
    const w = this.windows[(this.first + this.read) % this.windows.length];
    this.read++;
    const { blocks, from } = w;
    const count = Math.min(blocks.perWindow, blocks.count - from);
    // Blocks of more chunks than one transaction takes (where the run's chunks are small) are skipped.
    const starts = Array.from({ length: count }, (_, i) => blocks.first + BigInt(from + i) * this.size).filter((start) => {
      const pieces = this.view.layout.pieces(start, this.size);
      return pieces !== undefined && pieces.length <= MAX_BLOCK_CHUNKS;
    });
    const chunks = starts.flatMap((start) => (this.view.layout.pieces(start, this.size) ?? []).map((p) => p.chunk));
    const items = new Map<number, ChunkItem | undefined>(chunks.map((c) => [c, undefined]));
    for (const [firstChunk, lastChunk] of consecutive(chunks)) {
      for await (const item of this.ctx.table.queryAll(
        {
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
          ExpressionAttributeValues: { ':pk': poolPk(this.view.meta.name), ':first': chunkSk(firstChunk), ':last': chunkSk(lastChunk) },
          ConsistentRead: true,
        },
        budget,
      )) {
        items.set(chunkFromSk(String(item.sk)), decodeChunk(item));
      }
    }
    return { items, starts };
  }
}

/** Whether every bit of the pieces is clear in the chunks as read. */
export function piecesFree(items: ReadonlyMap<number, ChunkItem | undefined>, pieces: readonly Piece[]): boolean {
  return pieces.every((p) => allClear(items.get(p.chunk)?.bits ?? emptyBitmap(0), p.bit, p.count));
}

/** The first value of the pieces whose bit is set: what a VALUE_IN_USE answer for a block names. */
export function firstHeld(layout: Layout, items: ReadonlyMap<number, ChunkItem | undefined>, pieces: readonly Piece[]): bigint | undefined {
  for (const p of pieces) {
    const bits = items.get(p.chunk)?.bits;
    if (!bits) continue;
    for (let b = p.bit; b < p.bit + p.count; b++) if (getBit(bits, b)) return layout.valueAt({ chunk: p.chunk, bit: b });
  }
  return undefined;
}

/**
 * log2 of the largest free aligned block in a window that is smaller than `size` and at least one
 * chunk (the room index knows the smaller ones), or -1: what an exhausted answer names.
 */
export function largestFreeInWindow(layout: Layout, window: BlockWindow, size: bigint): number {
  const [head] = window.starts;
  if (head === undefined) return -1;
  const chunkOrder = Math.log2(layout.segments[layout.segmentIndexOf(head)].chunkBits);
  for (let order = size.toString(2).length - 2; order >= chunkOrder; order--) {
    const sub = 1n << BigInt(order);
    for (const start of window.starts) {
      for (let v = start; v < start + size; v += sub) {
        const pieces = layout.pieces(v, sub);
        if (pieces && piecesFree(window.items, pieces)) return order;
      }
    }
  }
  return -1;
}
