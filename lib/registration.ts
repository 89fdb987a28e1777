/**
 * Additive registration: the one code path that applies a pool file, whether it comes from startup
 * (the local stack's POOLS_FILE), from `POST /v1/config` or from an upload to the config bucket.
 */
import { randomUUID } from 'node:crypto';
import { invalidConfig, PoolError } from './errors.js';
import { planFile } from './plan.js';
import { type ConfigResultJson, configResultJson } from './shapes.js';
import { type PoolStore, RegistryChanged, type SyncObject, type SyncRecord } from './store.js';

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

/**
 * Plans the file against the registered pools and applies the plan in one transaction. A rejected
 * file changes nothing and, unless this is a dry run, is recorded with its errors; the thrown error is
 * INVALID_CONFIG with every problem in `details`.
 */
export async function registerFile(store: PoolStore, text: string, opts: RegisterOptions): Promise<Registered> {
  const attempts = opts.maxAttempts ?? 20;
  const now = () => new Date().toISOString();
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(500, 10 * 2 ** attempt)));
    const state = await store.registrationState();
    const planned = planFile(text, state.pools, { maxPoolSize: opts.maxPoolSize });
    if (!planned.ok) {
      if (!opts.dryRun) {
        await store.recordSync({ id: randomUUID(), source: opts.source, status: 'rejected', object: opts.object, at: now(), errors: planned.errors });
      }
      throw invalidConfig(planned.errors);
    }
    if (opts.dryRun) return { result: configResultJson(planned.plan, { applied: false, dryRun: true }) };
    const result = configResultJson(planned.plan, { applied: true, dryRun: false });
    const sync: SyncRecord = { id: randomUUID(), source: opts.source, status: 'applied', object: opts.object, at: now(), result };
    try {
      await store.applyPlan(planned.plan, state, sync);
      return { result, sync };
    } catch (e) {
      if (!(e instanceof RegistryChanged)) throw e;
    }
  }
  throw new PoolError('UNAVAILABLE', 'other registrations kept changing the pools while this file was applied; nothing was changed, retry shortly', {
    retryAfterSeconds: 1,
  });
}
