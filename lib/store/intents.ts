/**
 * Registrations larger than one transaction, through a registration intent (the protocol is on
 * lib/store/register.ts): staging, committing, settling, and finishing or undoing what a
 * registration that stopped left behind.
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PoolError } from '../errors.js';
import type { PoolChange } from '../plan.js';
import type { StoreContext } from './context.js';
import { decodeIntent, decodeMeta, type IntentItem, type IntentStatus, type StagedGrow } from './items.js';
import { INTENTS_PK, intentKey, itemWithKey, metaKey, pageCount } from './keys.js';
import { Budget, finalCheck } from './pacing.js';
import { committed } from './pool-view.js';
import { MAX_TRANSACTION_ITEMS, poolWrites, RegistryChanged, type RegistrationState } from './register.js';
import { unavailable } from './store-errors.js';
import {
  intentMove,
  intentPut,
  metaDropCreated,
  metaDropStaged,
  metaSettleCreated,
  metaSettleStaged,
  pageDelete,
  type Write,
} from './writes.js';

/** Staged batches written at once. */
const STAGING_PARALLELISM = 4;
/** A registration intent pending for longer than this belongs to a registration that stopped. */
const STALE_INTENT_MS = 60_000;
/** Settled and aborted intents are kept this long (DynamoDB's TTL removes them). */
const INTENT_TTL_S = 7 * 24 * 3600;
/** Settling runs after the commit, on its own budget: the registration has happened whatever it costs. */
const SETTLE_BUDGET_MS = 5000;

/**
 * Applies a plan too large for one transaction. Resolves once the registration is committed (its
 * settling may be left to the next registration); throws, with nothing committed, otherwise.
 */
export async function applyStaged(
  ctx: StoreContext,
  changes: readonly PoolChange[],
  state: RegistrationState,
  at: string,
  registry: readonly Write[],
  record: readonly Write[],
  budget: Budget,
): Promise<void> {
  const intent: IntentItem = {
    id: randomUUID(),
    status: 'pending',
    at,
    created: changes.filter((c) => !state.metas.has(c.name)).map((c) => c.name),
    grown: changes.filter((c) => state.metas.has(c.name)).map((c) => c.name),
  };
  // Lost in flight, it stays pending and is aborted as stale by the next registration: nothing counts.
  await ctx.table.write(intentPut(intent, ttlFrom(ctx)), budget);
  try {
    const staged = changes.map((c) => poolWrites(ctx, c, state, at, intent.id));
    await inBatches(staged, STAGING_PARALLELISM, async (batch) => {
      const outcome = await ctx.tx(batch, budget);
      if (outcome.kind !== 'ok') throw new RegistryChanged();
    });
    const outcome = await ctx.tx([...registry, intentMove(intent.id, 'pending', 'committed'), ...record], budget);
    if (outcome.kind === 'conflict' || outcome.kind === 'busy') throw new RegistryChanged();
    if (outcome.kind === 'unknown') throw unavailable('applying the pool file');
  } catch (e) {
    // Whatever stopped us, the intent decides: aborted now (nothing counts), or it did commit after all.
    if ((await abandon(ctx, intent, finalCheck())) !== 'committed') throw e;
  }
  ctx.settledIntents.set(intent.id, 'committed');
  await settle(ctx, { ...intent, status: 'committed' });
}

/**
 * Groups each pool's writes into transactions of at most 100 items (a pool's own writes stay
 * together) and runs them; after one fails, no further batch starts.
 */
async function inBatches(perPool: readonly Write[][], parallel: number, run: (batch: Write[]) => Promise<void>): Promise<void> {
  const batches: Write[][] = [];
  let current: Write[] = [];
  for (const writes of perPool) {
    if (current.length + writes.length > MAX_TRANSACTION_ITEMS) {
      batches.push(current);
      current = [];
    }
    current.push(...writes);
  }
  if (current.length > 0) batches.push(current);
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(parallel, batches.length) }, async () => {
      for (let i = next++; i < batches.length && !failed; i = next++) {
        try {
          await run(batches[i]);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    }),
  );
}

/**
 * Aborts an intent that has not committed, and removes what it staged. The move pending → aborted is
 * conditional, so a commit and an abort cannot both win: answers which one did (`unknown` when the
 * table could not be asked).
 */
async function abandon(ctx: StoreContext, intent: IntentItem, budget: Budget): Promise<'aborted' | 'committed' | 'unknown'> {
  let status: IntentStatus | undefined;
  try {
    await ctx.table.write(intentMove(intent.id, 'pending', 'aborted', ttlFrom(ctx)), budget);
    status = 'aborted';
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) return 'unknown';
    const now = await ctx.table.get(intentKey(intent.id), budget).catch(() => undefined);
    status = now ? decodeIntent(now).status : 'aborted';
  }
  if (committed(status)) return 'committed';
  if (status !== 'aborted') return 'unknown';
  ctx.settledIntents.set(intent.id, 'aborted');
  // Best effort: what an aborted intent leaves is ignored by readers and cleaned by the next registration.
  await undo(ctx, intent, budget).catch(() => undefined);
  return 'aborted';
}

/** Removes what an aborted intent staged: created pools' definitions and pages, grown pools' staged grows. */
async function undo(ctx: StoreContext, intent: IntentItem, budget: Budget): Promise<void> {
  await untilNoneLeft(ctx, budget, async () => {
    const metas = await ctx.table.batchGet([...intent.created, ...intent.grown].map(metaKey), budget);
    const writes: Write[][] = [];
    for (const name of intent.created) {
      const item = itemWithKey(metas, metaKey(name));
      if (!item || decodeMeta(item).pendingIntent !== intent.id) continue;
      const meta = decodeMeta(item);
      writes.push([metaDropCreated(name, intent.id), ...Array.from({ length: pageCount(meta.nseg) }, (_, p) => pageDelete(name, p))]);
    }
    for (const name of intent.grown) {
      const item = itemWithKey(metas, metaKey(name));
      if (item && decodeMeta(item).staged?.intent === intent.id) writes.push([metaDropStaged(name, intent.id)]);
    }
    return writes;
  });
}

/**
 * Folds a committed intent's staged markers in and marks it settled, with a budget of its own (the
 * registration has committed: nothing may fail it now). The intent is marked settled only once a read
 * finds no marker left, because a settled intent expires, and a marker whose intent is gone reads as
 * aborted. Answers whether it got there; if not, the intent stays committed and the next registration
 * finishes it.
 */
async function settle(ctx: StoreContext, intent: IntentItem): Promise<boolean> {
  const budget = Budget.of(SETTLE_BUDGET_MS);
  const done = await untilNoneLeft(ctx, budget, async () => {
    const metas = await ctx.table.batchGet([...intent.created, ...intent.grown].map(metaKey), budget);
    const writes: Write[][] = [];
    for (const name of intent.created) {
      const item = itemWithKey(metas, metaKey(name));
      if (item && decodeMeta(item).pendingIntent === intent.id) writes.push([metaSettleCreated(name, intent.id)]);
    }
    for (const name of intent.grown) {
      const item = itemWithKey(metas, metaKey(name));
      const staged: StagedGrow | undefined = item ? decodeMeta(item).staged : undefined;
      if (staged?.intent === intent.id) writes.push([metaSettleStaged(name, staged)]);
    }
    return writes;
  }).catch(() => false);
  if (!done) return false;
  return ctx.table
    .write(intentMove(intent.id, 'committed', 'settled', ttlFrom(ctx)), budget)
    .then(() => true)
    .catch((e: unknown) => e instanceof ConditionalCheckFailedException);
}

/**
 * Reads what is left to write (`left`) and writes it, until a read finds nothing left; answers
 * whether it got there within the budget. Each write is conditioned on the marker it folds or drops,
 * so writing one twice, or one another process wrote first, is harmless.
 */
async function untilNoneLeft(ctx: StoreContext, budget: Budget, left: () => Promise<Write[][]>): Promise<boolean> {
  for (let round = 0; round < 10 && budget.open(); round++) {
    const writes = await left();
    if (writes.length === 0) return true;
    await inBatches(writes, STAGING_PARALLELISM, async (batch) => {
      await ctx.tx(batch, budget);
    });
  }
  return false;
}

/**
 * Finishes what registrations that stopped left behind, before planning: committed intents are
 * settled, stale pending ones aborted and undone. A fresh pending one means another registration is
 * being applied right now: answer UNAVAILABLE rather than plan against a state about to change.
 */
export async function finishUnsettled(ctx: StoreContext, budget: Budget): Promise<void> {
  for await (const item of ctx.table.queryAll(
    {
      KeyConditionExpression: 'pk = :pk',
      FilterExpression: '#status IN (:pending, :committed)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':pk': INTENTS_PK, ':pending': 'pending', ':committed': 'committed' },
      ConsistentRead: true,
    },
    budget,
  )) {
    await finish(ctx, decodeIntent(item), budget);
  }
}

/** Settles a committed intent or aborts a stale pending one; UNAVAILABLE when that cannot be done now. */
export async function finish(ctx: StoreContext, intent: IntentItem, budget: Budget): Promise<void> {
  let status = intent.status;
  if (status === 'pending') {
    if (ctx.now().getTime() - Date.parse(intent.at) <= STALE_INTENT_MS) throw busyElsewhere();
    const outcome = await abandon(ctx, intent, budget);
    if (outcome === 'unknown') throw busyElsewhere();
    status = outcome;
  }
  if (committed(status) && !(await settle(ctx, { ...intent, status: 'committed' }))) throw busyElsewhere();
}

function busyElsewhere(): PoolError {
  return new PoolError('UNAVAILABLE', 'another pool file is being applied right now; retry shortly', { retryAfterSeconds: 2 });
}

/** The intent as it stands, for one that a marker names (a missing one was never committed). */
export async function readIntent(ctx: StoreContext, id: string, budget: Budget): Promise<IntentItem> {
  const item = await ctx.table.get(intentKey(id), budget);
  return item ? decodeIntent(item) : { id, status: 'aborted', at: '', created: [], grown: [] };
}

/**
 * A pool about to be created may have a definition left by a registration that never committed (a
 * crash between staging and aborting): finish that registration first.
 */
export async function clearOrphans(ctx: StoreContext, names: readonly string[], budget: Budget): Promise<void> {
  const found = await ctx.table.batchGet(names.map(metaKey), budget);
  for (const item of found) {
    const meta = decodeMeta(item);
    if (!meta.pendingIntent) throw new RegistryChanged();
    const intent = await readIntent(ctx, meta.pendingIntent, budget);
    await finish(ctx, intent, budget);
    // It committed after all: the pool exists now, and the plan is out of date.
    if (committed((await readIntent(ctx, intent.id, budget)).status)) throw new RegistryChanged();
    await undo(ctx, { ...intent, created: [meta.name], grown: [] }, budget);
  }
}

function ttlFrom(ctx: StoreContext): number {
  return Math.floor(ctx.now().getTime() / 1000) + INTENT_TTL_S;
}
