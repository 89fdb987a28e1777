/**
 * Applying a registration plan (lib/plan.ts) all or nothing. What the registered pools are, read for
 * planning; then every created or grown pool's definition and layout pages, the registry (on its
 * version, so registrations serialize) and the sync record, in one transaction when they fit in one
 * (100 items), otherwise through a registration intent:
 *
 *   1. the intent is written, pending, naming the pools it creates and grows;
 *   2. the pools' items are written staged: created pools carry `pending`, grown ones `staged`, and
 *      readers ignore both while the intent is pending (lib/store/pool-view.ts);
 *   3. one transaction commits: the registry, the intent (pending → committed) and the sync record;
 *   4. the staged items are folded in and the intent marked settled.
 *
 * A registration that fails before 3 aborts its intent and removes what it staged; one that stops
 * for good (a crash) is finished by the next registration: rolled forward if committed, undone if its
 * intent has been pending for longer than any registration takes.
 */
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PoolError } from '../errors.js';
import type { SyncRecord } from '../model.js';
import type { Plan, PoolChange, RegisteredPool } from '../plan.js';
import type { StoreContext } from './context.js';
import {
  decodeIntent,
  decodeMeta,
  decodePage,
  decodeRegistry,
  INTENTS_PK,
  type IntentItem,
  itemWithKey,
  type MetaItem,
  metaKey,
  type PageItem,
  pageKey,
  REGISTRY_KEY,
  type RegistryItem,
  SEGMENTS_PER_PAGE,
  type StagedGrow,
} from './items.js';
import { appendSegments, type Segment } from './layout.js';
import type { Budget } from './pacing.js';
import { layoutOf, trimPages } from './pool-view.js';
import { pageRoom } from './room.js';
import { syncWrite } from './syncs.js';
import { unavailable } from './store-errors.js';
import type { PoolType } from '../values.js';
import {
  intentMove,
  intentPut,
  metaDropCreated,
  metaDropStaged,
  metaGrow,
  metaPut,
  metaSettleCreated,
  metaSettleStaged,
  metaStage,
  pageDelete,
  pageWrite,
  registryWrite,
  type Write,
} from './writes.js';

/** A registration lost a race with another one; plan again against the new state. */
export class RegistryChanged extends Error {
  constructor() {
    super('the registered pools changed while this file was being applied');
  }
}

export interface RegistrationState {
  pools: RegisteredPool[];
  registry: RegistryItem;
  /** Definitions and raw layout pages (uncommitted segments included) of the registered pools. */
  metas: ReadonlyMap<string, MetaItem>;
  pages: ReadonlyMap<string, PageItem[]>;
}

/** One transaction holds at most 100 items. */
const MAX_TRANSACTION_ITEMS = 100;
/** Staged batches written at once. */
const STAGING_PARALLELISM = 4;
/** A registration intent pending for longer than this belongs to a registration that stopped. */
const STALE_INTENT_MS = 60_000;
/** Settled and aborted intents are kept this long (DynamoDB's TTL removes them). */
const INTENT_TTL_S = 7 * 24 * 3600;

export async function registrationState(ctx: StoreContext): Promise<RegistrationState> {
  const budget = ctx.budget();
  await finishUnsettled(ctx, budget);
  const registry = decodeRegistry(await ctx.table.get(REGISTRY_KEY, budget));
  const names = [...registry.pools.keys()];
  const metas = new Map<string, MetaItem>();
  for (const item of await ctx.table.batchGet(names.map(metaKey), budget)) {
    const meta = decodeMeta(item);
    metas.set(meta.name, meta);
  }
  const pages = await readAllPages(ctx, [...metas.values()], budget);
  const pools = [...metas.values()].map((meta) => {
    const layout = layoutOf(pages.get(meta.name) ?? [], meta.nseg);
    return { name: meta.name, type: meta.type, runs: layout.runs(), prefix: meta.prefix, segments: meta.nseg };
  });
  return { pools, registry, metas, pages };
}

/** Every layout page of these pools, read by key (their numbers follow from the segment counts). */
async function readAllPages(ctx: StoreContext, metas: readonly MetaItem[], budget: Budget): Promise<Map<string, PageItem[]>> {
  const keys = metas.flatMap((m) => Array.from({ length: pageCount(m.nseg) }, (_, p) => pageKey(m.name, p)));
  const out = new Map<string, PageItem[]>();
  for (const item of await ctx.table.batchGet(keys, budget)) {
    const pool = String(item.pk).slice('POOL#'.length);
    const list = out.get(pool) ?? [];
    list.push(decodePage(item));
    out.set(pool, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.page - b.page);
  return out;
}

const pageCount = (nseg: number): number => Math.ceil(nseg / SEGMENTS_PER_PAGE);

/**
 * Applies a plan made against `state`. Nothing is written when anything it was planned against has
 * moved: RegistryChanged, and the caller plans again.
 */
export async function applyPlan(ctx: StoreContext, plan: Plan, state: RegistrationState, sync?: SyncRecord): Promise<void> {
  const budget = ctx.budget();
  const at = ctx.isoNow();
  const changes = plan.changes.filter((c) => c.action !== 'unchanged');
  const created = changes.filter((c) => !state.metas.has(c.name));
  if (created.length > 0) await clearOrphans(ctx, created.map((c) => c.name), budget);
  const added = new Map<string, PoolType>(created.map((c) => [c.name, c.type]));
  const registry = changes.length > 0 ? [registryWrite(state.registry, added)] : [];
  const record = sync ? [syncWrite(sync)] : [];

  const direct = changes.flatMap((c) => poolWrites(ctx, c, state, at, undefined));
  if (direct.length + registry.length + record.length <= MAX_TRANSACTION_ITEMS) {
    const writes = [...registry, ...direct, ...record];
    if (writes.length > 0) await commitOrChanged(ctx, writes, budget);
  } else {
    await applyStaged(ctx, changes, state, at, registry, record, budget);
  }
  if (sync) ctx.events.synced?.(sync);
}

/** The definition and page writes of one created or grown pool; staged under `intent` when given. */
function poolWrites(ctx: StoreContext, c: PoolChange, state: RegistrationState, at: string, intent: string | undefined): Write[] {
  const meta = state.metas.get(c.name);
  const raw = state.pages.get(c.name) ?? [];
  const before = meta ? layoutOf(raw, meta.nseg).segments : [];
  const segments = appendSegments(before, c.added, ctx.targetChunks);
  const firstTouched = Math.floor(before.length / SEGMENTS_PER_PAGE);
  const writes: Write[] = [];
  for (let p = firstTouched; p < pageCount(segments.length); p++) {
    const old = raw.find((x) => x.page === p);
    const committed = old ? trimPages([old], before.length)[0] : undefined;
    writes.push(pageWrite(c.name, old, pageOf(c, p, segments, committed)));
  }
  if (!meta) {
    const fresh: MetaItem = { name: c.name, type: c.type, lver: 1, nseg: segments.length, prefix: c.prefix, createdAt: at, updatedAt: at, ver: 1, pendingIntent: intent };
    return [metaPut(fresh), ...writes];
  }
  const next = { lver: meta.lver + 1, nseg: segments.length, prefix: c.prefix !== meta.prefix ? c.prefix : undefined, updatedAt: at };
  return [intent ? metaStage(meta, { intent, ...next }) : metaGrow(meta, next), ...writes];
}

/** Page `p` of the new layout: segments already there keep their virtual flags, new ones start virtual. */
function pageOf(c: PoolChange, p: number, segments: readonly Segment[], committed: PageItem | undefined): PageItem {
  const mine = segments.slice(p * SEGMENTS_PER_PAGE, (p + 1) * SEGMENTS_PER_PAGE);
  const virtual = mine.map((_, i) => committed?.virtual[i] ?? true);
  return { page: p, segments: mine, virtual, ver: 0, room: pageRoom(c.type, mine, virtual) };
}

async function commitOrChanged(ctx: StoreContext, writes: readonly Write[], budget: Budget): Promise<void> {
  const outcome = await ctx.tx(writes, budget);
  if (outcome.kind === 'ok') return;
  if (outcome.kind === 'unknown') throw unavailable('applying the pool file');
  // A condition failed (another registration, a sweep settling a page) or DynamoDB was busy: plan again.
  throw new RegistryChanged();
}

async function applyStaged(
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
async function finishUnsettled(ctx: StoreContext, budget: Budget): Promise<void> {
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
async function clearOrphans(ctx: StoreContext, names: readonly string[], budget: Budget): Promise<void> {
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
