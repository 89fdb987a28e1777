/**
 * Crash proof: clients allocate and release over HTTP against the local stack while the whole stack
 * (API and DynamoDB Local) is SIGKILLed again and again and restarted on the same data. Afterwards
 * every allocation a client saw acknowledged must be there with its owner, nothing may be held twice,
 * and `resource-pool check` must find no disagreement.
 *
 *   npm run crash [-- --kills 10 --clients 16 --seconds-between-kills 4]
 *
 * test/e2e/crash.test.ts runs a short form of the same thing in CI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../local/dynamodb-local.js';
import { killStack, sleep, type StackProcess, startStackProcess, waitForHealth } from '../test/support/stack-process.js';

export interface CrashOptions {
  kills: number;
  clients: number;
  /** Owners per client: each owner is only ever used by its client, so its story is sequential. */
  ownersPerClient: number;
  /** Load between two kills, in milliseconds (each gap is drawn between half and all of it). */
  msBetweenKills: number;
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
  const ports = { PORT: String(await freePort()), DDB_PORT: String(await freePort()), S3_PORT: String(await freePort()) };
  const api = `http://127.0.0.1:${ports.PORT}`;
  const env = { ...ports, DATA_DIR: join(dir, 'data'), POOLS_FILE: poolsFile };

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
  };
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
      } else if (!allocating && res.status === 204) {
        owners.set(owner, { kind: 'free' });
        report.releasesAcknowledged++;
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
    log(`crash: starting the stack on ${api} with data in ${env.DATA_DIR}`);
    await start();
    const clients = Array.from({ length: options.clients }, (_, c) => client(c));
    for (let k = 0; k < options.kills; k++) {
      await sleep(options.msBetweenKills * (0.5 + Math.random() / 2));
      killStack(stack);
      await stack!.exited;
      report.kills++;
      log(`crash: kill ${report.kills}/${options.kills} after ${report.operations} operations (${report.acknowledged} acknowledged allocations); restarting`);
      await start();
    }
    await sleep(options.msBetweenKills / 2);
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
    rmSync(dir, { recursive: true, force: true });
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
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const { checkOutput, wrongAnswers, ...counts } = report;
  process.stdout.write(`${JSON.stringify({ ...counts, wrong_answers: wrongAnswers.length })}\n`);
  process.stdout.write(`operations ${report.operations}, kills ${report.kills}, acknowledged ${report.acknowledged}, lost ${report.lost}, duplicated ${report.duplicated}\n`);
  process.stdout.write(checkOutput);
  for (const w of wrongAnswers.slice(0, 10)) process.stdout.write(`wrong answer: ${w}\n`);
  const ok = report.lost === 0 && report.duplicated === 0 && report.resurrected === 0 && wrongAnswers.length === 0 && report.checkOk;
  process.exitCode = ok ? 0 : 1;
}
