/**
 * Crash proof: clients allocate and release over HTTP against the local stack while the stack (the
 * API, the stream reader that records history, the local S3) is SIGKILLed again and again and
 * restarted on the same data. Afterwards every allocation a client saw acknowledged must be there
 * with its owner, nothing may be held twice, `resource-pool check` must find no disagreement, and
 * every acknowledged allocation and release must have its history entry (derived from the table's
 * change stream, which the restarted stack reads on from where it was).
 *
 * DynamoDB Local runs apart and lives through the kills, as DynamoDB does when a Lambda dies: a
 * SIGKILLed DynamoDB Local can lose a transaction it acknowledged a few milliseconds earlier (README,
 * Proof under faults), which says nothing about this code. `--kill-dynamodb` kills it with the stack
 * all the same, to show that.
 *
 *   npm run crash [-- --kills 10 --clients 16 --seconds-between-kills 4 --kill-dynamodb]
 *
 * test/e2e/crash.test.ts runs a short form of the same thing in CI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startDynamoDbLocal } from '../local/dynamodb-local.js';
import { killStack, sleep, type StackProcess, startStackProcess, waitForHealth } from '../test/support/stack-process.js';

export interface CrashOptions {
  kills: number;
  clients: number;
  /** Owners per client: each owner is only ever used by its client, so its story is sequential. */
  ownersPerClient: number;
  /** Load between two kills, in milliseconds (each gap is drawn between half and all of it). */
  msBetweenKills: number;
  /**
   * And at least this many allocations acknowledged since the last restart before the next kill (up
   * to 60 s more): on a loaded machine a fixed gap can pass with almost nothing done. @default 15
   */
  minAcknowledgedBetweenKills?: number;
  /**
   * SIGKILL DynamoDB Local with the stack (the stack's own embedded one) instead of keeping it
   * running apart: then its own lost acknowledged transactions count against the result. @default false
   */
  killDynamoDb?: boolean;
  log?: (line: string) => void;
}

export interface CrashReport {
  operations: number;
  kills: number;
  /** Allocations the clients saw answered 201 or 200. */
  acknowledged: number;
  /** Releases the clients saw answered 204. */
  releasesAcknowledged: number;
  /** Requests whose answer was lost to a kill (their effect may or may not have landed). */
  unanswered: number;
  /** Acknowledged allocations missing afterwards, or held with another value. */
  lost: number;
  /** Acknowledged releases whose owner holds a value again without having asked. */
  resurrected: number;
  /** Values held by more than one owner. */
  duplicated: number;
  /** Answers no correct server could give (e.g. RESOURCE_EXHAUSTED on a pool with room, a 500). */
  wrongAnswers: string[];
  checkOk: boolean;
  checkOutput: string;
  heldAtEnd: number;
  /** Acknowledged allocations (distinct owner and value) and releases, each of which must have its entry. */
  historyExpected: number;
  historyFound: number;
  /** The first few acknowledged operations whose entry is missing. */
  historyMissing: string[];
}

type OwnerState =
  | { kind: 'free' }
  | { kind: 'held'; value: number }
  /** A request went unanswered: the owner may hold `value` (if known) or nothing. */
  | { kind: 'unknown' };

const POOL = 'crash-vni';

export async function runCrash(options: CrashOptions): Promise<CrashReport> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'rp-crash-'));
  const poolSize = options.clients * options.ownersPerClient * 2;
  const poolsFile = join(dir, 'pools.toml');
  writeFileSync(poolsFile, `[pools.${POOL}]\ntype = "integer"\nranges = [{ start = 5000000, end = ${5_000_000 + poolSize} }]\n`);
  const ports = { PORT: String(await freePort()), S3_PORT: String(await freePort()) };
  const api = `http://127.0.0.1:${ports.PORT}`;
  const database = options.killDynamoDb ? undefined : await startDynamoDbLocal({ dataDir: join(dir, 'dynamodb'), sharedDb: true });
  const dynamodb: Record<string, string> = database ? { DYNAMODB_ENDPOINT: database.endpoint } : { DDB_PORT: String(await freePort()) };
  const env = { ...ports, ...dynamodb, DATA_DIR: join(dir, 'data'), POOLS_FILE: poolsFile };

  const report: CrashReport = {
    operations: 0,
    kills: 0,
    acknowledged: 0,
    releasesAcknowledged: 0,
    unanswered: 0,
    lost: 0,
    resurrected: 0,
    duplicated: 0,
    wrongAnswers: [],
    checkOk: false,
    checkOutput: '',
    heldAtEnd: 0,
    historyExpected: 0,
    historyFound: 0,
    historyMissing: [],
  };
  /** `owner@value` of every acknowledged allocation, and per owner how many releases were acknowledged. */
  const allocatedSeen = new Set<string>();
  const releasesSeen = new Map<string, number>();
  const owners = new Map<string, OwnerState>();
  for (let c = 0; c < options.clients; c++) for (let o = 0; o < options.ownersPerClient; o++) owners.set(`c${c}-o${o}`, { kind: 'free' });

  let stack: StackProcess | undefined;
  const start = async () => {
    stack = startStackProcess(env);
    await waitForHealth(stack, api, 90_000);
  };

  let running = true;
  const client = async (c: number) => {
    const mine = [...owners.keys()].filter((o) => o.startsWith(`c${c}-`));
    while (running) {
      const owner = mine[Math.floor(Math.random() * mine.length)];
      const state = owners.get(owner)!;
      // Unknown after a kill: ask again the idempotent way (allocate returns what is held, or allocates).
      const allocating = state.kind !== 'held' && (state.kind === 'free' || Math.random() < 0.5);
      report.operations++;
      let res: Response;
      try {
        res = allocating
          ? await fetch(`${api}/v1/pools/${POOL}/allocations`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ owner }),
              signal: AbortSignal.timeout(10_000),
            })
          : await fetch(`${api}/v1/pools/${POOL}/owners/${owner}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
      } catch (e) {
        if ((e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') {
          // The stack is down: this request never reached it.
          report.operations--;
          await sleep(100);
          continue;
        }
        // The stack died under the request: whatever it did may or may not have landed.
        report.unanswered++;
        owners.set(owner, { kind: 'unknown' });
        await sleep(100);
        continue;
      }
      const body = res.status === 204 ? undefined : ((await res.json().catch(() => undefined)) as Record<string, unknown> | undefined);
      if (allocating && (res.status === 201 || res.status === 200)) {
        owners.set(owner, { kind: 'held', value: Number(body?.value) });
        report.acknowledged++;
        allocatedSeen.add(`${owner}@${Number(body?.value)}`);
      } else if (!allocating && res.status === 204) {
        owners.set(owner, { kind: 'free' });
        report.releasesAcknowledged++;
        releasesSeen.set(owner, (releasesSeen.get(owner) ?? 0) + 1);
      } else if (!allocating && res.status === 404 && (body?.error as { code?: string })?.code === 'NOT_ALLOCATED') {
        // Holding nothing: right after an unanswered release; lost if we had it acknowledged.
        if (state.kind === 'held') report.lost++;
        owners.set(owner, { kind: 'free' });
      } else if (res.status === 503) {
        // UNAVAILABLE: nothing was changed, the owner's state stands.
        await sleep(50);
      } else {
        report.wrongAnswers.push(`${allocating ? 'allocate' : 'release'} ${owner}: ${res.status} ${JSON.stringify(body)}`);
      }
    }
  };

  try {
    log(`crash: starting the stack on ${api} with data in ${env.DATA_DIR}; DynamoDB Local ${database ? `runs apart at ${database.endpoint}` : 'is the stack\'s own and is killed with it'}`);
    await start();
    const clients = Array.from({ length: options.clients }, (_, c) => client(c));
    const minAcks = options.minAcknowledgedBetweenKills ?? 15;
    const loadUntilKill = async () => {
      const from = report.acknowledged;
      await sleep(options.msBetweenKills * (0.5 + Math.random() / 2));
      const until = Date.now() + 60_000;
      while (report.acknowledged - from < minAcks && Date.now() < until) await sleep(100);
    };
    for (let k = 0; k < options.kills; k++) {
      await loadUntilKill();
      killStack(stack);
      await stack!.exited;
      report.kills++;
      log(`crash: kill ${report.kills}/${options.kills} after ${report.operations} operations (${report.acknowledged} acknowledged allocations); restarting`);
      await start();
    }
    await loadUntilKill();
    running = false;
    await Promise.all(clients);

    // Reconcile: what the server holds against what the clients were told.
    const held = new Map<string, number>();
    let cursor: string | null = null;
    do {
      const page = (await (await fetch(`${api}/v1/pools/${POOL}/allocations?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)).json()) as {
        allocations: { owner: string; value: number }[];
        next_cursor: string | null;
      };
      for (const a of page.allocations) held.set(a.owner, a.value);
      cursor = page.next_cursor;
    } while (cursor);
    report.heldAtEnd = held.size;
    for (const [owner, state] of owners) {
      if (state.kind === 'held' && held.get(owner) !== state.value) report.lost++;
      if (state.kind === 'free' && held.has(owner)) report.resurrected++;
    }
    const byValue = new Map<number, number>();
    for (const v of held.values()) byValue.set(v, (byValue.get(v) ?? 0) + 1);
    report.duplicated = [...byValue.values()].filter((n) => n > 1).length;

    await reconcileHistory(api, allocatedSeen, releasesSeen, report);

    const cli = resolve(import.meta.dirname, '../bin/resource-pool.js');
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [cli, 'check', '--endpoint', api], { encoding: 'utf8' });
      report.checkOk = true;
      report.checkOutput = stdout;
    } catch (e) {
      report.checkOutput = String((e as { stdout?: string }).stdout ?? e);
    }
    return report;
  } finally {
    running = false;
    killStack(stack);
    await stack?.exited;
    await database?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every acknowledged allocation has an `allocated` entry with its owner and value, and every owner has
 * at least as many `released` entries as releases it saw acknowledged. Entries of allocations come
 * through the change stream a moment later: waited for, up to 30 s.
 */
async function reconcileHistory(api: string, allocated: Set<string>, releases: Map<string, number>, report: CrashReport): Promise<void> {
  report.historyExpected = allocated.size + [...releases.values()].reduce((a, b) => a + b, 0);
  const until = Date.now() + 30_000;
  for (;;) {
    const found = new Set<string>();
    const released = new Map<string, number>();
    let cursor: string | null = null;
    do {
      const page = (await (await fetch(`${api}/v1/pools/${POOL}/history?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)).json()) as {
        history: { owner: string; value: number; event: string }[];
        next_cursor: string | null;
      };
      for (const e of page.history) {
        if (e.event === 'allocated') found.add(`${e.owner}@${e.value}`);
        if (e.event === 'released') released.set(e.owner, (released.get(e.owner) ?? 0) + 1);
      }
      cursor = page.next_cursor;
    } while (cursor);
    const missing = [
      ...[...allocated].filter((a) => !found.has(a)).map((a) => `allocated ${a}`),
      ...[...releases].filter(([o, n]) => (released.get(o) ?? 0) < n).map(([o, n]) => `released ${o} (${released.get(o) ?? 0} of ${n})`),
    ];
    report.historyFound = report.historyExpected - missing.length;
    report.historyMissing = missing.slice(0, 10);
    if (missing.length === 0 || Date.now() > until) return;
    await sleep(500);
  }
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const args = process.argv.slice(2);
  const report = await runCrash({
    kills: option(args, 'kills', 10),
    clients: option(args, 'clients', 16),
    ownersPerClient: option(args, 'owners-per-client', 8),
    msBetweenKills: option(args, 'seconds-between-kills', 4) * 1000,
    killDynamoDb: args.includes('--kill-dynamodb'),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const { checkOutput, wrongAnswers, historyMissing, ...counts } = report;
  process.stdout.write(`${JSON.stringify({ ...counts, wrong_answers: wrongAnswers.length, history_missing: historyMissing.length })}\n`);
  process.stdout.write(`operations ${report.operations}, kills ${report.kills}, acknowledged ${report.acknowledged}, lost ${report.lost}, duplicated ${report.duplicated}\n`);
  process.stdout.write(checkOutput);
  for (const w of wrongAnswers.slice(0, 10)) process.stdout.write(`wrong answer: ${w}\n`);
  for (const m of report.historyMissing) process.stdout.write(`history missing: ${m}\n`);
  const ok = report.lost === 0 && report.duplicated === 0 && report.resurrected === 0 && wrongAnswers.length === 0 && report.checkOk && report.historyFound === report.historyExpected;
  process.exitCode = ok ? 0 : 1;
}
