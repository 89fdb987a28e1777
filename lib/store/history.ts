/**
 * Keeping and reading history. Entries are written whole and without condition (the same entry
 * twice is one item), BatchWriteItem 25 at a time; `released` entries are the exception, written by
 * the release's own transaction (lib/store/release.ts). Reading is newest first, three ways: a pool's
 * timeline (its monthly partitions, newest month first), an owner's entries in a pool (the by-owner
 * index), and a value's (the by-value index: the value's own entries and those of every aligned
 * block that could have covered it, merged). A cursor is the sort key of the last entry handed out.
 */
import { PoolError } from '../errors.js';
import type { HistoryEntry, HistoryPage, HistoryQuery } from '../model.js';
import { log2 } from '../blocks.js';
import { valueSortKey } from '../values.js';
import type { StoreContext } from './context.js';
import { decodeHistory, encodeHistory } from './items.js';
import { historyOwnerPk, historyPk, historySk, historyValuePk, type Native, TABLE_KEYS } from './keys.js';
import type { Budget } from './pacing.js';
import { readPool } from './pool-view.js';
import { poolNotFound, valueNotInPool } from './store-errors.js';
import type { QueryInput } from './table.js';

/** BatchWriteItem's limit. */
const WRITE_BATCH = 25;

export async function recordHistory(ctx: StoreContext, entries: readonly HistoryEntry[]): Promise<void> {
  const budget = ctx.budget();
  const items = entries.map((e) => encodeHistory(e, ctx.historyDays));
  for (let i = 0; i < items.length; i += WRITE_BATCH) await ctx.table.batchPut(items.slice(i, i + WRITE_BATCH), budget);
}

export async function readHistory(ctx: StoreContext, q: HistoryQuery): Promise<HistoryPage> {
  const budget = ctx.budget();
  const { view } = await readPool(ctx, q.pool, budget);
  if (!view) throw poolNotFound(q.pool);
  // Nothing older than the retention period is kept (TTL removes it within a few days of expiring).
  const kept = new Date(ctx.now().getTime() - (ctx.historyDays + 2) * 86_400_000).toISOString();
  const lo = q.since !== undefined && q.since > kept ? q.since : kept;
  const hi = q.after ? justBelow(q.after) : `${q.until ?? '9999'}\uffff`;
  if (hi < lo) return { entries: [] };
  const bounds = { lo, hi };

  if (q.owner !== undefined) {
    const pk = historyOwnerPk(q.pool, q.owner);
    return merged([await indexPage(ctx, TABLE_KEYS.ownerIndex, TABLE_KEYS.ownerIndexPartitionKey, TABLE_KEYS.ownerIndexSortKey, pk, bounds, q.limit, budget)], q.limit);
  }
  if (q.value) {
    const space = view.cached.space;
    const parsed = q.value(space);
    if (!parsed.ok) throw new PoolError('INVALID_ARGUMENT', parsed.message);
    const v = parsed.value;
    if (!view.layout.locate(v)) throw valueNotInPool(q.pool, space, v);
    // Blocks are aligned on their size: only a block starting at one of these can have covered v.
    const starts = new Set<bigint>();
    for (let k = 0; k <= log2(BigInt(view.layout.maxBlockSize())); k++) starts.add(v - (v % (1n << BigInt(k))));
    const pages = await Promise.all(
      [...starts].map(async (start) => {
        const pk = historyValuePk(q.pool, valueSortKey(space, start));
        const page = await indexPage(ctx, TABLE_KEYS.valueIndex, TABLE_KEYS.valueIndexPartitionKey, TABLE_KEYS.valueIndexSortKey, pk, bounds, q.limit, budget);
        return { ...page, entries: page.entries.filter((e) => v < e.value + BigInt(e.size)) };
      }),
    );
    return merged(pages, q.limit);
  }

  // The pool's timeline: month partitions from the newest the bounds allow to the oldest.
  const entries: HistoryEntry[] = [];
  const newest = hi.startsWith('9999') ? new Date(ctx.now().getTime() + 86_400_000).toISOString() : hi;
  for (const month of monthsDown(newest.slice(0, 7), lo.slice(0, 7))) {
    const page = await queryPage(
      ctx,
      { KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi', ExpressionAttributeValues: { ':pk': historyPk(q.pool, `${month}-01`), ':lo': lo, ':hi': hi } },
      q.limit - entries.length,
      budget,
    );
    entries.push(...page.entries);
    if (entries.length >= q.limit) return { entries, next: page.more || month !== lo.slice(0, 7) ? historySk(entries[entries.length - 1]) : undefined };
  }
  return { entries };
}

interface Bounds {
  lo: string;
  hi: string;
}

interface PartialPage {
  entries: HistoryEntry[];
  /** The partition has entries past those read. */
  more: boolean;
}

async function indexPage(ctx: StoreContext, index: string, pkName: string, skName: string, pk: string, b: Bounds, limit: number, budget: Budget): Promise<PartialPage> {
  return queryPage(
    ctx,
    {
      IndexName: index,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lo AND :hi',
      ExpressionAttributeNames: { '#pk': pkName, '#sk': skName },
      ExpressionAttributeValues: { ':pk': pk, ':lo': b.lo, ':hi': b.hi },
    },
    limit,
    budget,
  );
}

async function queryPage(ctx: StoreContext, input: QueryInput, limit: number, budget: Budget): Promise<PartialPage> {
  const page = await ctx.table.query({ ...input, ScanIndexForward: false, Limit: limit }, budget);
  return { entries: page.items.map((i: Native) => decodeHistory(i)), more: page.last !== undefined };
}

/** The newest `limit` entries of several partitions, each read newest first up to `limit`. */
function merged(pages: readonly PartialPage[], limit: number): HistoryPage {
  const all = pages.flatMap((p) => p.entries.map((e) => ({ e, sk: historySk(e) })));
  all.sort((a, b) => (a.sk < b.sk ? 1 : a.sk > b.sk ? -1 : 0));
  const entries = all.slice(0, limit);
  const more = all.length > limit || pages.some((p) => p.more);
  return { entries: entries.map((x) => x.e), next: more && entries.length > 0 ? entries[entries.length - 1].sk : undefined };
}

/**
 * The greatest key below `key` that any sort key of an entry can be, so that `BETWEEN lo AND
 * justBelow(cursor)` continues strictly after the cursor: entries' keys are ASCII, and U+FFFF sorts
 * after every ASCII character.
 */
export function justBelow(key: string): string {
  if (key === '') return '';
  return `${key.slice(0, -1)}${String.fromCharCode(key.charCodeAt(key.length - 1) - 1)}\uffff`;
}

/** Calendar months ("2026-11") from `from` down to `to`, inclusive. */
export function monthsDown(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = from.split('-').map(Number);
  for (let guard = 0; guard < 1200; guard++) {
    const month = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}`;
    if (month < to) break;
    out.push(month);
    if (--m === 0) {
      m = 12;
      y--;
    }
  }
  return out;
}
