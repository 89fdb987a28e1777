/**
 * Registrations larger than one transaction, through a registration intent (the protocol is on
 * lib/store/register.ts): staging, committing, settling, and finishing or undoing what a
 * registration that stopped left behind.
 */
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PoolError } from '../errors.js';
import type { PoolChange } from '../plan.js';
import type { StoreContext } from './context.js';
import { decodeIntent, decodeMeta, type IntentItem, type StagedGrow } from './items.js';
import { INTENTS_PK, itemWithKey, metaKey, pageCount } from './keys.js';
import type { Budget } from './pacing.js';
import { commitOrChanged, MAX_TRANSACTION_ITEMS, poolWrites, RegistryChanged, type RegistrationState } from './register.js';
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
  await ctx.table.write(intentPut(intent, ttlFrom(ctx)), budget);
  try {
    const staged = changes.map((c) => poolWrites(ctx, c, state, at, intent.id));
    await inBatches(staged, STAGING_PARALLELISM, async (batch) => {
      const outcome = await ctx.tx(batch, budget);
      if (outcome.kind !== 'ok') throw new RegistryChanged();
    });
    await commitOrChanged(ctx, [...registry, intentMove(intent.id, 'pending', 'committed'), ...record], budget);
  } catch (e) {
    await abandon(ctx, intent, budget);
    throw e;
  }
  ctx.settledIntents.set(intent.id, 'committed');
  await settle(ctx, { ...intent, status: 'committed' }, budget);
}

/** Groups each pool's writes into transactions of at most 100 items (a pool's own writes stay together) and runs them. */
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
  await Promise.all(
    Array.from({ length: Math.min(parallel, batches.length) }, async () => {
      for (let i = next++; i < batches.length; i = next++) await run(batches[i]);
    }),
  );
}

/** Aborts an intent that has not committed and removes what it staged; if it did commit meanwhile, settles it instead. */
async function abandon(ctx: StoreContext, intent: IntentItem, budget: Budget): Promise<void> {
  try {
    await ctx.table.write(intentMove(intent.id, 'pending', 'aborted', ttlFrom(ctx)), budget);
  } catch {
    const now = await ctx.table.get({ pk: INTENTS_PK, sk: intent.id }, budget);
    if (now && decodeIntent(now).status === 'committed') return settle(ctx, decodeIntent(now), budget);
    if (!now || decodeIntent(now).status !== 'aborted') return;
  }
  ctx.settledIntents.set(intent.id, 'aborted');
  await undo(ctx, intent, budget);
}

/** Removes what an aborted intent staged: created pools' definitions and pages, grown pools' staged grows. */
async function undo(ctx: StoreContext, intent: IntentItem, budget: Budget): Promise<void> {
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
  await inBatches(writes, STAGING_PARALLELISM, (batch) => ignoreConflicts(ctx.tx(batch, budget)));
}

/** Folds a committed intent's staged items in, then marks it settled. */
async function settle(ctx: StoreContext, intent: IntentItem, budget: Budget): Promise<void> {
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
  await inBatches(writes, STAGING_PARALLELISM, (batch) => ignoreConflicts(ctx.tx(batch, budget)));
  await ctx.table.write(intentMove(intent.id, 'committed', 'settled', ttlFrom(ctx)), budget).catch(() => undefined);
}

async function ignoreConflicts(outcome: Promise<unknown>): Promise<void> {
  await outcome.catch((e) => {
    if (!(e instanceof TransactionCanceledException)) throw e;
  });
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
    const intent = decodeIntent(item);
    if (intent.status === 'committed') await settle(ctx, intent, budget);
    else if (ctx.now().getTime() - Date.parse(intent.at) > STALE_INTENT_MS) await abandon(ctx, intent, budget);
    else throw new PoolError('UNAVAILABLE', 'another pool file is being applied right now; retry shortly', { retryAfterSeconds: 2 });
  }
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
    const intent = await ctx.table.get({ pk: INTENTS_PK, sk: meta.pendingIntent }, budget);
    if (intent) await abandon(ctx, decodeIntent(intent), budget);
    else await undo(ctx, { id: meta.pendingIntent, status: 'aborted', at: '', created: [meta.name], grown: [] }, budget);
  }
}

function ttlFrom(ctx: StoreContext): number {
  return Math.floor(ctx.now().getTime() / 1000) + INTENT_TTL_S;
}
