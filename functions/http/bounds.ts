/**
 * Size bounds on what a pool file can make the API write and answer.
 *
 * A 1 MiB file can carry a 500 KB pool name or prefix, and every error and warning quotes what it is
 * about; the store writes a sync record as one DynamoDB item (at most 400 KB), so such a file failed
 * with a server error instead of INVALID_CONFIG. Until lib/store.ts bounds sync records itself, the
 * API clips every quoted text before the record is written, and answers with the same clipped text,
 * so that the response and GET /v1/config/syncs agree.
 */
import type { ConfigIssue } from '../../lib/config.js';
import { invalidConfig, type PoolError } from '../../lib/errors.js';
import type { ConfigResultJson } from '../../lib/shapes.js';
import type { PoolStore, SyncRecord } from '../../lib/store.js';

/** UTF-8 bytes of a text once written as a JSON string (quotes excluded). */
const MAX_PATH_BYTES = 256;
const MAX_MESSAGE_BYTES = 1024;
const MAX_LISTED = 100;

/** Cuts a text so that it takes at most `maxBytes` as JSON in UTF-8, saying how much was cut. */
export function clip(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes / 6) return text;
  const budget = maxBytes - 40;
  let size = 0;
  let kept = 0;
  for (const ch of text) {
    const width = Buffer.byteLength(JSON.stringify(ch)) - 2;
    if (size + width > budget) break;
    size += width;
    kept += ch.length;
  }
  if (kept === text.length) return text;
  return `${text.slice(0, kept)}… (${text.length - kept} more characters)`;
}

/** At most MAX_LISTED entries, the last saying how many more there were (the store keeps lists of that length as they are). */
function listed<T>(items: readonly T[], more: (n: number) => T): T[] {
  return items.length > MAX_LISTED ? [...items.slice(0, MAX_LISTED - 1), more(items.length - MAX_LISTED + 1)] : [...items];
}

export function boundIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return listed(
    issues.map((i) => ({ path: clip(i.path, MAX_PATH_BYTES), message: clip(i.message, MAX_MESSAGE_BYTES) })),
    (n) => ({ path: '(more)', message: `${n} more errors not listed` }),
  );
}

export function boundResult(result: ConfigResultJson): ConfigResultJson {
  return {
    ...result,
    ignored: listed(
      result.ignored.map((i) => ({ pool: clip(i.pool, MAX_PATH_BYTES), reason: clip(i.reason, MAX_MESSAGE_BYTES) })),
      (n) => ({ pool: '(more)', reason: `${n} more not listed` }),
    ),
    warnings: listed(
      result.warnings.map((w) => clip(w, MAX_PATH_BYTES)),
      (n) => `${n} more warnings not listed`,
    ),
  };
}

function boundSync(sync: SyncRecord): SyncRecord {
  return { ...sync, ...(sync.result ? { result: boundResult(sync.result) } : {}), ...(sync.errors ? { errors: boundIssues(sync.errors) } : {}) };
}

/** INVALID_CONFIG with its details (and the message quoting the first) clipped as the record is. */
export function boundInvalidConfig(e: PoolError): PoolError {
  return Array.isArray(e.details) ? invalidConfig(boundIssues(e.details as ConfigIssue[])) : e;
}

/** The store as registration sees it, with every sync record it writes bounded. */
export function boundingSyncs(store: PoolStore): PoolStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'recordSync') return (sync: SyncRecord) => target.recordSync(boundSync(sync));
      if (property === 'applyPlan') {
        return (...[plan, state, sync]: Parameters<PoolStore['applyPlan']>) => target.applyPlan(plan, state, sync && boundSync(sync));
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
