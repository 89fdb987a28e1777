/**
 * Config sync records: one item per application of a pool file, applied or rejected, in a partition
 * per calendar month, so that no partition grows without bound. Listing walks the months back,
 * newest first, until it has enough.
 */
import type { SyncRecord } from '../model.js';
import type { StoreContext } from './context.js';
import { syncJson } from './items.js';
import { syncPk } from './keys.js';
import { syncPut, type Write } from './writes.js';

/** A sync record keeps at most this many entries of each list, so it stays far inside DynamoDB's 400 KB. */
const MAX_SYNC_LIST = 100;
/** How far back listing looks for records: further than anyone keeps a pool file's history by hand. */
const MONTHS_LISTED = 24;

/** The write of a sync record, its lists capped (pure). */
export function syncWrite(sync: SyncRecord): Write {
  const record: SyncRecord = { ...sync };
  if (sync.errors) record.errors = capped(sync.errors, (n) => ({ path: '(more)', message: `${n} more errors not recorded` }));
  if (sync.result) {
    record.result = {
      ...sync.result,
      ignored: capped(sync.result.ignored, (n) => ({ pool: '(more)', reason: `${n} more ignored entries not recorded` })),
      warnings: capped(sync.result.warnings, (n) => `${n} more warnings not recorded`),
    };
  }
  return syncPut(sync, JSON.stringify(record));
}

function capped<T>(list: T[], more: (n: number) => T): T[] {
  return list.length > MAX_SYNC_LIST ? [...list.slice(0, MAX_SYNC_LIST), more(list.length - MAX_SYNC_LIST)] : list;
}

export async function recordSync(ctx: StoreContext, sync: SyncRecord): Promise<void> {
  // Written whole, unconditionally: sending it twice changes nothing.
  await ctx.table.write(syncWrite(sync), ctx.budget(), { idempotent: true });
  ctx.events.synced?.(sync);
}

/** The newest `limit` records, newest first, reading as many pages and months as it takes. */
export async function listSyncs(ctx: StoreContext, limit: number): Promise<SyncRecord[]> {
  const budget = ctx.budget();
  const out: SyncRecord[] = [];
  const month = ctx.now();
  for (let back = 0; back < MONTHS_LISTED && out.length < limit; back++) {
    const at = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() - back, 1)).toISOString();
    for await (const item of ctx.table.queryAll(
      { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': syncPk(at) }, ScanIndexForward: false, Limit: limit - out.length },
      budget,
    )) {
      out.push(JSON.parse(syncJson(item)) as SyncRecord);
      if (out.length >= limit) break;
    }
  }
  return out;
}
