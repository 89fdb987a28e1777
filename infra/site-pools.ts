import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parsePoolsFile } from '../lib/config.js';
import { planFile } from '../lib/plan.js';

/**
 * The pool file travels inside the template (as a custom resource property) and in the invocation of the
 * function that uploads it; real pool files are a few KB.
 */
export const MAX_SITE_POOLS_BYTES = 128 * 1024;

/** A site pools file, read and validated when the app is synthesized. */
export interface SitePools {
  /** As given (context `poolsFile`), for messages. */
  readonly path: string;
  readonly text: string;
  /** Names of the pools it defines, in file order. */
  readonly poolNames: string[];
  readonly warnings: string[];
}

export class SitePoolsError extends Error {
  override name = 'SitePoolsError';
}

/**
 * Reads the file and plans it the way config-sync will on a table with no pools yet (parse errors,
 * MAX_POOL_SIZE, ranges per pool, pools per file), so a file that would be rejected at deploy time
 * fails the synth instead, with every error at its place. What it cannot see here is the deployed
 * table: a file that conflicts with pools registered since is still rejected by config-sync, recorded
 * in GET /v1/config/syncs and alarmed on.
 */
export function loadSitePools(path: string, maxPoolSize: number, cwd = process.cwd(), maxPoolSizeSetting = 'context maxPoolSize'): SitePools {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), 'utf8');
  } catch (err) {
    throw new SitePoolsError(`poolsFile ${path}: cannot read it (${(err as Error).message})`);
  }
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_SITE_POOLS_BYTES) {
    throw new SitePoolsError(
      `poolsFile ${path}: ${size} bytes is over the ${MAX_SITE_POOLS_BYTES} bytes a deploy can carry; upload it to the config bucket instead`,
    );
  }
  const planned = planFile(text, [], { maxPoolSize, maxPoolSizeSetting });
  if (!planned.ok) {
    const lines = planned.errors.map((e) => `  ${e.path}: ${e.message}`);
    throw new SitePoolsError(`poolsFile ${path} is invalid:\n${lines.join('\n')}`);
  }
  return { path, text, poolNames: parsePoolsFile(text).pools.map((p) => p.name), warnings: planned.plan.warnings };
}
