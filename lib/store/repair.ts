/**
 * Repair: mends what `check` finds and confirms on a second read, and nothing else. Each mend is
 * written on the version of the item that the check confirmed, so an item that moved since (an
 * allocation, a release) is left alone and said so; no live allocation can be freed by a repair
 * (the mistake of reconcilers that free what they merely failed to see).
 *
 * - a bit set with no allocation record (a leak) is cleared: the value can be handed out again;
 * - a record whose bits are clear gets them set again: the record is what a client was told;
 * - a chunk whose count, room key or stray bits are wrong is rewritten from its own bits;
 * - a layout page whose room key is wrong, or whose settled segment lacks a chunk, has its segments
 *   marked as maybe having never-written chunks (the next allocations look, and settle them again).
 *
 * A value held by two records, or a record outside the pool, has no mend that is safe without a
 * person: those stay in the check's report. Each mend of bits is recorded in history (`repaired`) in
 * the transaction that makes it.
 */
import { randomUUID } from 'node:crypto';
import type { HistoryEntry } from '../model.js';
import { emptyBitmap, popcount, withBits } from './bitmap.js';
import { check, type Repair } from './check.js';
import type { StoreContext } from './context.js';
import { getChunk } from './holdings.js';
import { decodePage } from './items.js';
import { pageKey } from './keys.js';
import { readPool } from './pool-view.js';
import { chunkRoom, pageRoom } from './room.js';
import { chunkWrite, historyPut, pageWrite } from './writes.js';

export interface RepairOptions {
  pool?: string;
  cursor?: string;
  /** List what would be done, and do nothing. */
  dryRun?: boolean;
  /** Who asks, recorded in history. */
  by?: string;
  /** How long the check waits before its second read. */
  indexLagMs?: number;
}

export interface RepairAction {
  pool: string;
  problem: string;
  action: string;
}

export interface RepairReport {
  repaired: RepairAction[];
  /** Continues a repair whose check did not fit in one call; null when it is complete. */
  next_cursor: string | null;
}

export async function repair(ctx: StoreContext, opts: RepairOptions = {}): Promise<RepairReport> {
  const repairs: Repair[] = [];
  const report = await check(ctx, { pool: opts.pool, cursor: opts.cursor, indexLagMs: opts.indexLagMs, repairs });
  const repaired: RepairAction[] = [];
  // Every mend of one item is one write: a chunk may be both leaked and miscounted.
  const groups = new Map<string, Repair[]>();
  for (const r of repairs) {
    const key = r.kind === 'chunk' ? `${r.pool}\n${r.kind}\n${r.chunk}` : `${r.pool}\n${r.kind}\n${r.page}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const requestId = randomUUID();
  for (const group of groups.values()) {
    const outcome = opts.dryRun ? undefined : await mend(ctx, group, opts.by ?? 'unknown', requestId);
    for (const r of group) repaired.push({ pool: r.pool, problem: r.problem, action: outcome === false ? SKIPPED : actionOf(r, opts.dryRun === true) });
  }
  return { repaired, next_cursor: report.next_cursor };
}

const SKIPPED = 'nothing: the item changed since the check read it; check again';

function actionOf(r: Repair, dryRun: boolean): string {
  const would = dryRun ? 'would be ' : '';
  if (r.kind === 'page') return `layout page ${r.page}'s segments ${would}marked as maybe having never-written chunks: allocations look for them again`;
  if (r.clear.length > 0) return `${r.clear.length === 1 && r.clear[0].count === 1 ? 'its bit' : 'their bits'} ${would}cleared: free to be handed out again`;
  if (r.set.length > 0) return `${r.set[0].count === 1 ? 'its bit' : 'their bits'} ${would}set again: '${r.set[0].owner}' keeps what it was given`;
  return `chunk ${r.chunk} ${would}rewritten from its bits (count, room key, stray bits)`;
}

/** Applies one item's mends on the version the check confirmed; false when the item moved since. */
async function mend(ctx: StoreContext, group: Repair[], by: string, requestId: string): Promise<boolean> {
  const budget = ctx.budget();
  const first = group[0];
  const { view } = await readPool(ctx, first.pool, budget);
  if (!view) return false;
  if (first.kind === 'page') {
    const item = await ctx.table.get(pageKey(first.pool, first.page), budget);
    if (!item) return false;
    const page = decodePage(item);
    const virtual = page.segments.map((s) => s.autoAssign);
    const outcome = await ctx.tx([pageWrite(first.pool, page, { ...page, virtual, room: pageRoom(view.meta.type, page.segments, virtual) })], budget);
    ctx.cache.forget(first.pool);
    return outcome.kind === 'ok';
  }
  const chunk = first.chunk;
  const info = view.layout.chunk(chunk);
  const before = await getChunk(ctx, first.pool, chunk, budget);
  if (!info || before?.ver !== first.ver) return false;
  let bits = before?.bits ?? emptyBitmap(info.segment.chunkBits);
  const at = ctx.isoNow();
  const entries: HistoryEntry[] = [];
  const space = view.cached.space;
  for (const r of group) {
    if (r.kind !== 'chunk') continue;
    for (const run of r.clear) {
      bits = withBits(bits, run.bit, run.count, false);
      entries.push({ pool: r.pool, ...space, value: info.base + BigInt(run.bit), size: run.count, owner: '', event: 'repaired', at, by, requestId, labels: {} });
    }
    for (const run of r.set) {
      bits = withBits(bits, run.bit, run.count, true);
      entries.push({ pool: r.pool, ...space, value: info.base + BigInt(run.bit), size: run.count, owner: run.owner, event: 'repaired', at, by, requestId, labels: {} });
    }
  }
  // Bits past the chunk's values hold nothing.
  const chunkBits = info.segment.chunkBits;
  const clean = withBits(withBits(bits.slice(0, emptyBitmap(chunkBits).length), 0, info.from, false), info.to, chunkBits - info.to, false);
  const room = chunkRoom(space, info, clean);
  const write = chunkWrite(view.meta, chunk, before, { bits: clean, used: popcount(clean, info.from, info.to), room, at: ctx.now().getTime() });
  const outcome = await ctx.tx([write, ...entries.map((e) => historyPut(e, ctx.historyDays))], budget);
  if (outcome.kind === 'ok') ctx.cache.forget(first.pool);
  return outcome.kind === 'ok';
}
