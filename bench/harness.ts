/**
 * What every benchmark shares: the command line, the phase lengths, the JSON lines and the progress
 * output, a closed loop of clients, percentiles, and the Bench (one DynamoDB Local, one table, stores
 * made as Lambda instances would have them, pools that never overlap).
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isPoolError } from '../lib/errors.js';
import { registerFile } from '../lib/registration.js';
import { PoolStore, type StoreOptions } from '../lib/store/index.js';
import { type DynamoDbLocal, localDynamoClient } from '../local/dynamodb-local.js';

export const args = new Set(process.argv.slice(2));
export const JSON_OUT = args.has('--json');
export const QUICK = args.has('--quick');
export const CLIENTS = 32;
/**
 * Warm-up runs in windows until the allocator's rate settles (the last `SETTLE.windows` within a
 * factor `SETTLE.spread` of each other), at least `warmupMinS` and at most `warmupMaxS`: on these machines
 * DynamoDB Local's JVM keeps getting faster for 40-90 s of load, not the 15-20 s once assumed, with
 * plateaus on the way, and a comparison made while it still speeds up favours whichever side runs later.
 */
export const T = QUICK
  ? { warmupMinS: 5, warmupMaxS: 8, windowS: 2, phaseS: 2, rounds: 2, sizeSamples: 100, meterOps: 30, sweep: [128] }
  : { warmupMinS: 45, warmupMaxS: 150, windowS: 4, phaseS: 4, rounds: 6, sizeSamples: 400, meterOps: 150, sweep: [8, 32, 128, 1024] };
export const SETTLE = { windows: 3, spread: 1.1 };

export type Line = Record<string, string | number | boolean>;
export const lines: Line[] = [];

export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

export function emit(line: Line): void {
  lines.push(line);
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(line)}\n`);
}

export const round = (n: number, digits = 2) => Number(n.toFixed(digits));

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}


export interface PhaseResult {
  ok: number;
  seconds: number;
  perSecond: number;
  latencies: number[];
  errors: Map<string, number>;
}

/** `clients` loops calling `op` until `seconds` have passed; latencies of the successful calls, sorted. */
export async function closedLoop(clients: number, seconds: number, op: (client: number) => Promise<unknown>): Promise<PhaseResult> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          await op(c);
          latencies.push(performance.now() - t);
        } catch (e) {
          const code = isPoolError(e) ? e.code : (e as Error).name;
          errors.set(code, (errors.get(code) ?? 0) + 1);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { ok: latencies.length, seconds: elapsed, perSecond: latencies.length / elapsed, latencies, errors };
}

export class Bench {
  private retries = 0;
  /** Retries by reason since the last take. */
  readonly retryReasons = new Map<string, number>();
  readonly db: DynamoDBClient;

  constructor(
    readonly ddb: DynamoDbLocal,
    readonly tableName: string,
  ) {
    this.db = localDynamoClient(ddb.endpoint);
  }

  /** A store as one Lambda instance would have it: its own client. */
  store(options: Partial<StoreOptions> = {}): PoolStore {
    return new PoolStore({
      client: localDynamoClient(this.ddb.endpoint),
      tableName: this.tableName,
      events: {
        retry: (reason) => {
          this.retries++;
          this.retryReasons.set(reason, (this.retryReasons.get(reason) ?? 0) + 1);
        },
      },
      ...options,
    });
  }

  takeRetries(): number {
    const r = this.retries;
    this.retries = 0;
    this.retryReasons.clear();
    return r;
  }

  /** Integer pools never share values, so each new one starts where the last one ended. */
  private nextStart = 0;

  async pool(name: string, size: number, options: Partial<StoreOptions> = {}, maxPoolSize = 250_000): Promise<void> {
    const start = this.nextStart;
    this.nextStart += size;
    await registerFile(this.store(options), `[pools.${name}]\ntype = "integer"\nranges = [{ start = ${start}, end = ${start + size} }]`, {
      source: 'startup',
      maxPoolSize,
    });
  }
}

export async function newBench(ddb: DynamoDbLocal): Promise<Bench> {
  const bench = new Bench(ddb, `bench-${randomUUID()}`);
  await bench.store().ensureTable();
  return bench;
}

/** One SDK client per baseline client, made as the stores' own are. */
export function rawClients(bench: Bench): DynamoDBClient[] {
  return Array.from({ length: CLIENTS }, () => localDynamoClient(bench.ddb.endpoint));
}


/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
