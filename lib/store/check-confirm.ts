/**
 * Confirming what a check suspects: the items involved are read again, after the by-value index has
 * had time to catch up, and a suspect counts only if its chunk did not change in between. Also the
 * read meter that keeps a check's read rate bounded.
 */
import { getBit } from './bitmap.js';
import type { StoreContext } from './context.js';
import { recordsCovering } from './holdings.js';
import { type ChunkItem, decodeChunk } from './items.js';
import { chunkKey } from './keys.js';
import { type Budget, sleep } from './pacing.js';
import type { PoolView } from './pool-view.js';

/** Reads of a disagreement before giving up on confirming it in this call (the item keeps changing). */
const CONFIRM_TRIES = 4;
/** Read units per second a check may use: far below one partition's 3,000. */
const READ_UNITS_PER_S = 300;

export interface Confirming {
  /** How long the by-value index may trail the table. */
  lag: number;
  meter: ReadMeter;
  budget: Budget;
}

/** A run of `count` consecutive bits of one chunk from `bit` with the same disagreement. */
export interface Suspect {
  chunk: number;
  bit: number;
  count: number;
  kind: 'unrecorded' | 'clear' | 'double';
  owners: string[];
  /** The chunk's version when the disagreement was confirmed (undefined: never written). */
  ver?: number;
}


/**
 * The suspects whose disagreement persists: their chunks are read, then (after the index's lag) their
 * records, then the chunks again; a suspect counts only when its chunk did not change in between.
 * Those whose chunk did change are tried again, a few rounds at most.
 */
export async function confirmed(ctx: StoreContext, view: PoolView, suspects: Suspect[], pass: Confirming): Promise<Suspect[]> {
  const { meta, layout } = view;
  const out: Suspect[] = [];
  let open = suspects;
  // A round needs the lag and a few reads; one that cannot finish in the budget is not started.
  for (let round = 0; round < CONFIRM_TRIES && open.length > 0 && pass.budget.remaining() > pass.lag + 1500; round++) {
    const chunkNumbers = [...new Set(open.map((s) => s.chunk))];
    const before = await readChunks(ctx, meta.name, chunkNumbers, pass.budget);
    await sleep(pass.lag);
    const live = new Map<Suspect, string[]>();
    for (const s of open) {
      const value = (layout.chunk(s.chunk)?.base ?? 0n) + BigInt(s.bit);
      live.set(s, (await recordsCovering(ctx, view, value, pass.budget)).map((h) => h.owner));
    }
    const after = await readChunks(ctx, meta.name, chunkNumbers, pass.budget);
    await pass.meter.spend(open.length * 2 + chunkNumbers.length * 2);
    const retry: Suspect[] = [];
    for (const s of open) {
      const was = before.get(s.chunk);
      const now = after.get(s.chunk);
      if ((was?.ver ?? 0) !== (now?.ver ?? 0)) {
        retry.push(s);
        continue;
      }
      const isSet = now ? getBit(now.bits, s.bit) : false;
      const holders = live.get(s) ?? [];
      const persists = s.kind === 'unrecorded' ? isSet && holders.length === 0 : s.kind === 'clear' ? !isSet && holders.length > 0 : holders.length > 1;
      if (persists) out.push({ ...s, owners: holders.length > 0 ? holders : s.owners, ver: now?.ver });
    }
    open = retry;
  }
  return out;
}

async function readChunks(ctx: StoreContext, pool: string, chunks: readonly number[], budget: Budget): Promise<Map<number, ChunkItem>> {
  const items = await ctx.table.batchGet(chunks.map((c) => chunkKey(pool, c)), budget);
  return new Map(items.map((i) => {
    const c = decodeChunk(i);
    return [c.chunk, c];
  }));
}

/** Keeps a check's reads under READ_UNITS_PER_S, by waiting when it gets ahead. */
export class ReadMeter {
  private readonly started = Date.now();
  private units = 0;

  async spend(units: number): Promise<void> {
    this.units += units;
    const due = this.started + (this.units / READ_UNITS_PER_S) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await sleep(Math.min(wait, 1000));
  }
}

