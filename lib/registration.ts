/**
 * Additive registration: the one code path that applies a pool file, whether it comes from startup
 * (the local stack's POOLS_FILE), from `POST /v1/config` or from an upload to the config bucket.
 */
import { randomUUID } from 'node:crypto';
import type { ConfigIssue } from './config.js';
import { invalidConfig, PoolError } from './errors.js';
import { planFile } from './plan.js';
import { type ConfigResultJson, configResultJson } from './shapes.js';
import type { SyncObject, SyncRecord } from './model.js';
import { type PoolStore, RegistryChanged } from './store/index.js';

export interface RegisterOptions {
  source: SyncRecord['source'];
  maxPoolSize: number;
  /** Plan only: nothing is written and nothing is recorded. */
  dryRun?: boolean;
  /** The S3 object the file came from. */
  object?: SyncObject;
  /** How often to plan again when another registration got in first. */
  maxAttempts?: number;
}

export interface Registered {
  result: ConfigResultJson;
  /** The sync record written for this application; absent for dry runs. */
  sync?: SyncRecord;
}

/** The largest pool file accepted, whatever its source (the HTTP API's body limit is the same). */
export const MAX_FILE_BYTES = 1024 * 1024;

export function fileTooLarge(bytes: number): ConfigIssue[] {
  return [{ path: 'file', message: `the file is ${bytes} bytes; at most ${MAX_FILE_BYTES} bytes (1 MiB) are accepted: split it into several files` }];
}

const now = () => new Date().toISOString();

/** A file rejected before or after planning: recorded (unless a dry run), then INVALID_CONFIG. */
export async function rejectFile(store: PoolStore, errors: ConfigIssue[], opts: RegisterOptions): Promise<never> {
  if (!opts.dryRun) {
    await store.recordSync({ id: randomUUID(), source: opts.source, status: 'rejected', object: opts.object, at: now(), errors });
  }
  throw invalidConfig(errors);
}

/**
 * Plans the file against the registered pools and applies the plan in one transaction. A rejected
 * file changes nothing and, unless this is a dry run, is recorded with its errors; the thrown error is
 * INVALID_CONFIG with every problem in `details`.
 */
export async function registerFile(store: PoolStore, text: string, opts: RegisterOptions): Promise<Registered> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_FILE_BYTES) return rejectFile(store, fileTooLarge(bytes), opts);
  const attempts = opts.maxAttempts ?? 20;
  // One budget for the whole registration, however often it plans again: the caller is answered in time.
  const deadline = store.deadline();
  for (let attempt = 0; attempt < attempts && Date.now() < deadline; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(500, 10 * 2 ** attempt, Math.max(0, deadline - Date.now()))));
    const state = await store.registrationState(deadline);
    const planned = planFile(text, state.pools, { maxPoolSize: opts.maxPoolSize });
    if (!planned.ok) return rejectFile(store, planned.errors, opts);
    if (opts.dryRun) return { result: configResultJson(planned.plan, { applied: false, dryRun: true }) };
    const result = configResultJson(planned.plan, { applied: true, dryRun: false });
    const sync: SyncRecord = { id: randomUUID(), source: opts.source, status: 'applied', object: opts.object, at: now(), result };
    try {
      await store.applyPlan(planned.plan, state, sync, deadline);
      return { result, sync };
    } catch (e) {
      if (!(e instanceof RegistryChanged)) throw e;
    }
  }
  throw new PoolError('UNAVAILABLE', 'other registrations kept changing the pools while this file was applied; nothing was changed, retry shortly', {
    retryAfterSeconds: 1,
  });
}
