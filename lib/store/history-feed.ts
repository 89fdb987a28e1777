/**
 * What the table's change stream means for history, as a pure function of the changed items: a new
 * allocation record is an `allocated` entry, a record whose labels version moved is a
 * `labels_changed` entry, and a new history entry (whoever wrote it: this feed, or a release in its
 * own transaction) is an event to publish. Everything else (chunks, pool definitions, the deletion of
 * a record, whose entry its release wrote) means nothing here. Every entry is derived from the item
 * alone, so a change delivered twice gives the same entry twice.
 */
import type { HistoryEntry } from '../model.js';
import { decodeHistory, decodeHolding, type HoldingItem } from './items.js';
import { HISTORY_PREFIX, HOLDING_PREFIX, type Native, OWNER_PREFIX } from './keys.js';

export interface TableChange {
  kind: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The item's key (pk, sk), which every change carries. */
  keys: Native;
  oldItem?: Native;
  newItem?: Native;
}

export interface HistoryFeed {
  /** Entries to write into the history. */
  record: HistoryEntry[];
  /** Entries just written into the history, to put on the event bus. */
  publish: HistoryEntry[];
}

export const isHoldingKey = (keys: Native): boolean => String(keys.pk).startsWith(HOLDING_PREFIX) && String(keys.sk).startsWith(OWNER_PREFIX);
export const isHistoryKey = (keys: Native): boolean => String(keys.pk).startsWith(HISTORY_PREFIX);
/** Whether a change can mean anything to history: lets a reader skip the rest (a chunk's bitmap) unread. */
export const concernsHistory = (keys: Native): boolean => isHoldingKey(keys) || isHistoryKey(keys);

export function historyFeed(changes: readonly TableChange[]): HistoryFeed {
  const record: HistoryEntry[] = [];
  const publish: HistoryEntry[] = [];
  for (const c of changes) {
    if (isHistoryKey(c.keys)) {
      if (c.kind === 'INSERT' && c.newItem) publish.push(decodeHistory(c.newItem));
      continue;
    }
    if (!isHoldingKey(c.keys) || !c.newItem) continue;
    const now = decodeHolding(c.newItem);
    if (c.kind === 'INSERT') {
      if (now.importedAt) record.push(entryOf(now, 'imported', { at: now.importedAt, by: now.by, requestId: now.rid }));
      else record.push(entryOf(now, 'allocated', { at: now.at, by: now.by, requestId: now.rid }));
    } else if (c.kind === 'MODIFY' && c.oldItem) {
      const before = decodeHolding(c.oldItem);
      // Only a changed labels version is a label change; the same record may change otherwise (a lease renewed).
      if (before.rid === now.rid && (now.labelsVersion ?? 0) > (before.labelsVersion ?? 0)) {
        record.push(entryOf(now, 'labels_changed', { at: now.labelsAt ?? now.at, by: now.labelsBy, requestId: now.labelsRid ?? `${now.rid}.${now.labelsVersion}` }));
      }
    }
  }
  return { record, publish };
}

function entryOf(h: HoldingItem, event: HistoryEntry['event'], how: { at: string; by?: string; requestId: string }): HistoryEntry {
  return { pool: h.pool, type: h.type, delegate: h.delegate, value: h.value, size: h.size, owner: h.owner, event, labels: h.labels ?? {}, at: how.at, by: how.by ?? 'unknown', requestId: how.requestId };
}
