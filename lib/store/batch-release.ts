/**
 * A batch of releases, in one or several pools, in one step: the owners' records are read with the
 * pools' definitions (one BatchGetItem per pool, in parallel), then one transaction clears every bit
 * they hold (once per chunk, the bits of every item in it merged), deletes each record on its request
 * id and writes each `released` history entry, as a single release does. An owner that holds nothing
 * is answered `released: false` and fails nothing; so is one whose record was released by another
 * call meanwhile (a newer allocation of that owner is never released by this call, as a single
 * release never does).
 */
import { randomUUID } from 'node:crypto';
import { batchFailed, PoolError } from '../errors.js';
import type { Allocation, BatchReleased, BatchReleaseItem } from '../model.js';
import { MAX_TRANSACTION_ITEMS, readBatch, readHoldings } from './batch.js';
import { chunkBitsWrite } from './chunk-bits.js';
import type { StoreContext } from './context.js';
import { toAllocation } from './holdings.js';
import { type ChunkItem, decodeChunk, type HoldingItem } from './items.js';
import type { Piece } from './layout.js';
import { finalCheck, Pacing } from './pacing.js';
import type { PoolView } from './pool-view.js';
import { readMissing, releasedEntry } from './release.js';
import { outcomeUnknown, transactionTooLarge, undecided, unavailable } from './store-errors.js';
import { historyPut, holdingDelete, type Write } from './writes.js';

const WHAT = 'batch of releases';

/** What one transaction item of an attempt is, to read its cancellation reason. */
type Part = { kind: 'chunk'; pool: string; chunk: number } | { kind: 'record'; index: number } | { kind: 'history' };

export async function releaseBatch(ctx: StoreContext, reqs: readonly BatchReleaseItem[], by?: string): Promise<BatchReleased[]> {
  const budget = ctx.budget();
  const requestId = randomUUID();
  const read = await readBatch(ctx, reqs, budget);
  if (read.failures.length > 0) throw batchFailed(read.failures, 'nothing was released');
  /** What each item sets out to release: the record as read, until released or found gone. */
  const pending: (HoldingItem | undefined)[] = [...read.holdings];
  const released: (Allocation | undefined)[] = reqs.map(() => undefined);
  const known = new Map<string, Map<number, ChunkItem | undefined>>();
  const knownIn = (pool: string) => {
    let m = known.get(pool);
    if (!m) known.set(pool, (m = new Map()));
    return m;
  };
  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  /** An attempt may have landed without our hearing of it. */
  let unsure = false;

  const open = () => pending.flatMap((h, index) => (h ? [index] : []));
  const answer = (): BatchReleased[] => reqs.map(({ pool, owner }, i) => ({ pool, owner, released: released[i] !== undefined, ...(released[i] ? { allocation: released[i] } : {}) }));

  /**
   * The records of the items still to release, as they now stand (`still`: the same allocation).
   * One transaction deletes them all or none: when every one is gone and an attempt may have landed,
   * that attempt released them; otherwise those gone were released by other calls.
   */
  function settle(still: (index: number) => boolean, maybeOurs: boolean): void {
    const items = open();
    const ours = maybeOurs && !items.some(still);
    for (const i of items) {
      if (still(i)) continue;
      if (ours) {
        released[i] = toAllocation(pending[i] as HoldingItem);
        ctx.events.released?.(reqs[i].pool);
      }
      pending[i] = undefined;
    }
  }

  const findOut = async (cause?: unknown): Promise<BatchReleased[]> => {
    const now = await readHoldings(ctx, reqs, finalCheck()).catch((e: unknown) => {
      throw outcomeUnknown(WHAT, 'answers released: false for what it released', e);
    });
    const still = (i: number) => now[i]?.rid === pending[i]?.rid;
    if (open().some(still)) throw unavailable(WHAT, cause);
    settle(still, true);
    return answer();
  };

  try {
    while (pacing.more()) {
      const items = open();
      if (items.length === 0) return answer();
      const pieces = new Map<number, Piece[]>();
      const byPool = new Map<string, number[]>();
      for (const i of items) {
        const h = pending[i] as HoldingItem;
        const view = read.views.get(h.pool) as PoolView;
        const p = view.layout.pieces(h.value, BigInt(h.size));
        if (!p) throw new PoolError('INTERNAL', `the allocation record of '${h.owner}' names a value outside pool '${h.pool}'; check reports it`);
        pieces.set(i, p);
        byPool.set(h.pool, [...(byPool.get(h.pool) ?? []), ...p.map((x) => x.chunk)]);
      }
      await Promise.all([...byPool].map(([pool, chunks]) => readMissing(ctx, pool, knownIn(pool), chunks, budget)));

      const parts: Part[] = [];
      const writes: Write[] = [];
      for (const [pool, chunks] of byPool) {
        const view = read.views.get(pool) as PoolView;
        const cleared = new Map<number, Piece[]>();
        for (const i of items) if (reqs[i].pool === pool) for (const p of pieces.get(i) as Piece[]) cleared.set(p.chunk, [...(cleared.get(p.chunk) ?? []), p]);
        for (const chunk of new Set(chunks)) {
          parts.push({ kind: 'chunk', pool, chunk });
          writes.push(chunkBitsWrite(ctx, view, chunk, knownIn(pool).get(chunk), cleared.get(chunk) as Piece[], false).write);
        }
      }
      const at = ctx.isoNow();
      for (const i of items) {
        const h = pending[i] as HoldingItem;
        parts.push({ kind: 'record', index: i }, { kind: 'history' });
        writes.push(holdingDelete(h.pool, h.owner, h.rid), historyPut(releasedEntry(h, { at, by: by ?? 'unknown', requestId }), ctx.historyDays));
      }
      if (writes.length > MAX_TRANSACTION_ITEMS) throw transactionTooLarge(writes.length, MAX_TRANSACTION_ITEMS);

      const outcome = await ctx.tx(writes, budget);
      if (outcome.kind === 'ok') {
        settle(() => false, true);
        return answer();
      }
      if (outcome.kind === 'conflict') {
        unsure ||= outcome.maybeLanded;
        const moved = new Set<number>();
        outcome.items.forEach((now, n) => {
          if (now === null) return;
          const part = parts[n];
          if (part.kind === 'chunk') knownIn(part.pool).set(part.chunk, now ? decodeChunk(now) : undefined);
          else if (part.kind === 'record') moved.add(part.index);
        });
        // A record whose condition failed is gone, or a newer allocation of its owner: not ours to release,
        // unless an attempt of ours may have landed (then it released it, as a single release judges).
        settle((i) => !moved.has(i), unsure);
        await pacing.conflict();
      } else {
        known.clear();
        unsure ||= outcome.kind === 'unknown';
        const now = await readHoldings(ctx, reqs, budget);
        settle((i) => now[i]?.rid === pending[i]?.rid, unsure);
        await pacing.failure();
      }
    }
  } catch (e) {
    if (unsure && undecided(e)) return findOut(e);
    throw e;
  }
  if (unsure) return findOut();
  throw unavailable(WHAT);
}
