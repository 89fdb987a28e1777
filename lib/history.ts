/**
 * History and events, as rules: how long entries are kept, and what an entry looks like on the
 * EventBridge bus (source and detail-type). Pure: the store keeps entries (lib/store/history.ts), the
 * history function derives and publishes them (functions/history.ts).
 */
import type { HistoryEntry, HistoryEvent } from './model.js';
import { PoolError } from './errors.js';

export const DEFAULT_HISTORY_DAYS = 400;
/** DynamoDB's TTL works in seconds; ten years is more than any audit asks for. */
export const MAX_HISTORY_DAYS = 3650;

/** The `source` of every event the service puts on the bus. */
export const EVENT_SOURCE = 'resource-pools';

export const DETAIL_TYPES: Readonly<Record<HistoryEvent, string>> = {
  allocated: 'Allocation Allocated',
  released: 'Allocation Released',
  labels_changed: 'Allocation Labels Changed',
  expired: 'Allocation Expired',
  imported: 'Allocation Imported',
  repaired: 'Allocation Repaired',
};

/** `HISTORY_DAYS` from the environment: a whole number of days, 1 to MAX_HISTORY_DAYS. */
export function parseHistoryDays(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return DEFAULT_HISTORY_DAYS;
  const days = Number(text);
  if (!Number.isInteger(days) || days < 1 || days > MAX_HISTORY_DAYS) {
    throw new PoolError('INVALID_ARGUMENT', `HISTORY_DAYS must be a whole number of days from 1 to ${MAX_HISTORY_DAYS}; got ${JSON.stringify(text)}`);
  }
  return days;
}

/** When DynamoDB may drop an entry (epoch seconds): counted from the entry's time, so that writing it again changes nothing. */
export function expiresAt(entry: Pick<HistoryEntry, 'at'>, days: number): number {
  return Math.floor(Date.parse(entry.at) / 1000) + days * 86_400;
}

/** An ISO time as the API takes it (`since`, `until`), normalized to the form entries are kept in. */
export function parseIsoTime(field: string, text: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw new PoolError('INVALID_ARGUMENT', `${field} must be an ISO 8601 time such as 2026-11-22 or 2026-11-22T10:00:00Z; got ${JSON.stringify(text.slice(0, 64))}`);
  return new Date(ms).toISOString();
}
