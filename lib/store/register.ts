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
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { SyncRecord } from '../model.js';
import type { Plan, PoolChange, RegisteredPool } from '../plan.js';
import type { PoolType } from '../values.js';
import type { StoreContext } from './context.js';
import { applyStaged, clearOrphans, finish, finishUnsettled, readIntent } from './intents.js';
import { decodeMeta, decodePage, decodeRegistry, type MetaItem, type PageItem, type RegistryItem } from './items.js';
import { metaKey, pageCount, pageKey, REGISTRY_KEY, SEGMENTS_PER_PAGE, syncKey } from './keys.js';
import { appendSegments, type Segment } from './layout.js';
import { type Budget, finalCheck } from './pacing.js';
import { layoutOf, trimPages } from './pool-view.js';
import { pageRoom } from './room.js';
import { outcomeUnknown, unavailable } from './store-errors.js';
import { syncWrite } from './syncs.js';
import { metaDropStaged, metaGrow, metaPut, metaStage, pageReplace, pageWrite, registryWrite, type Write } from './writes.js';

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
export const MAX_TRANSACTION_ITEMS = 100;

export async function registrationState(ctx: StoreContext, budget: Budget = ctx.budget()): Promise<RegistrationState> {
  await finishUnsettled(ctx, budget);
  const registry = decodeRegistry(await ctx.table.get(REGISTRY_KEY, budget));
  const names = [...registry.pools.keys()];
  const metas = new Map<string, MetaItem>();
  for (const item of await ctx.table.batchGet(names.map(metaKey), budget)) {
    const meta = await withoutStagedGrow(ctx, decodeMeta(item), budget);
    metas.set(meta.name, meta);
  }
  const pages = await readAllPages(ctx, [...metas.values()], budget);
  const pools = [...metas.values()].map((meta) => {
    const layout = layoutOf(pages.get(meta.name) ?? [], meta.nseg);
    return {
      name: meta.name,
      type: meta.type,
      delegate: meta.delegate,
      kind: meta.kind,
      scope: meta.scope,
      order: meta.order,
      runs: layout.runs(),
      prefix: meta.prefix,
      segments: meta.nseg,
    };
  });
  return { pools, registry, metas, pages };
}

/**
 * A definition still marked with a staged grow: the registration that staged it is finished first (a
 * committed one settled, a stale pending one aborted, a fresh one waited for: UNAVAILABLE), and the
 * mark of an aborted one is removed; nothing could grow the pool while the mark is there.
 */
async function withoutStagedGrow(ctx: StoreContext, meta: MetaItem, budget: Budget): Promise<MetaItem> {
  if (!meta.staged) return meta;
  const intent = await readIntent(ctx, meta.staged.intent, budget);
  await finish(ctx, intent, budget);
  if ((await readIntent(ctx, intent.id, budget)).status === 'aborted') {
    await ctx.table.write(metaDropStaged(meta.name, intent.id), budget).catch((e: unknown) => {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    });
  }
  const now = await ctx.table.get(metaKey(meta.name), budget);
  if (!now || decodeMeta(now).staged) throw unavailable('applying the pool file (a pool is being grown by another one)');
  return decodeMeta(now);
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

/**
 * Applies a plan made against `state`. Nothing is written when anything it was planned against has
 * moved: RegistryChanged, and the caller plans again.
 */
export async function applyPlan(ctx: StoreContext, plan: Plan, state: RegistrationState, sync?: SyncRecord, budget: Budget = ctx.budget()): Promise<void> {
  const at = ctx.isoNow();
  // A pool whose order alone changes is written like a grow that adds no segment.
  const changes = plan.changes.filter((c) => c.action !== 'unchanged' || c.reorder);
  const created = changes.filter((c) => !state.metas.has(c.name));
  if (created.length > 0) await clearOrphans(ctx, created.map((c) => c.name), budget);
  const added = new Map<string, PoolType>(created.map((c) => [c.name, c.type]));
  const registry = changes.length > 0 ? [registryWrite(state.registry, added)] : [];
  const record = sync ? [syncWrite(sync)] : [];

  const direct = changes.flatMap((c) => poolWrites(ctx, c, state, at, undefined));
  if (direct.length + registry.length + record.length <= MAX_TRANSACTION_ITEMS) {
    const writes = [...registry, ...direct, ...record];
    if (writes.length > 0) await commitOrChanged(ctx, writes, budget, sync);
  } else {
    await applyStaged(ctx, changes, state, at, registry, record, budget);
  }
  if (sync) ctx.events.synced?.(sync);
}

/** The definition and page writes of one created, grown or reordered pool; staged under `intent` when given. */
export function poolWrites(ctx: StoreContext, c: PoolChange, state: RegistrationState, at: string, intent: string | undefined): Write[] {
  const meta = state.metas.get(c.name);
  const raw = state.pages.get(c.name) ?? [];
  const before = meta ? layoutOf(raw, meta.nseg).segments : [];
  const segments = appendSegments(before, c.added, ctx.targetChunks);
  const firstTouched = Math.floor(before.length / SEGMENTS_PER_PAGE);
  const writes: Write[] = [];
  // A reorder adds no segment: no page changes.
  for (let p = firstTouched; c.added.length > 0 && p < pageCount(segments.length); p++) {
    const after = (old?: PageItem) => pageOf(c, p, segments, old ? trimPages([old], before.length)[0] : undefined);
    // A page holding committed segments is replaced on its version (a sweep may be settling it); one
    // past them holds nothing that counts (at most what an aborted registration left) and is written
    // over, in the same transaction as the definition's own condition.
    if (p < pageCount(before.length)) {
      const old = raw.find((x) => x.page === p);
      writes.push(pageWrite(c.name, old, after(old)));
    } else {
      writes.push(pageReplace(c.name, after()));
    }
  }
  if (!meta) {
    const fresh: MetaItem = {
      name: c.name,
      type: c.type,
      delegate: c.delegate,
      kind: c.kind,
      scope: c.scope,
      order: c.order,
      lver: 1,
      nseg: segments.length,
      prefix: c.prefix,
      createdAt: at,
      updatedAt: at,
      ver: 1,
      pendingIntent: intent,
    };
    return [metaPut(fresh), ...writes];
  }
  // The layout version moves only with the layout, so that a reorder leaves every container's cached layout current.
  const next = {
    lver: c.added.length > 0 ? meta.lver + 1 : meta.lver,
    nseg: segments.length,
    prefix: c.prefix !== meta.prefix ? c.prefix : undefined,
    order: c.reorder ? c.order : undefined,
    updatedAt: at,
  };
  return [intent ? metaStage(meta, { intent, ...next }) : metaGrow(meta, next), ...writes];
}

/** Page `p` of the new layout: segments already there keep their virtual flags, new ones start virtual. */
function pageOf(c: PoolChange, p: number, segments: readonly Segment[], committed: PageItem | undefined): PageItem {
  const mine = segments.slice(p * SEGMENTS_PER_PAGE, (p + 1) * SEGMENTS_PER_PAGE);
  const virtual = mine.map((_, i) => committed?.virtual[i] ?? true);
  return { page: p, segments: mine, virtual, ver: 0, room: pageRoom(c.type, mine, virtual) };
}

async function commitOrChanged(ctx: StoreContext, writes: readonly Write[], budget: Budget, sync: SyncRecord | undefined): Promise<void> {
  const outcome = await ctx.tx(writes, budget);
  if (outcome.kind === 'ok') return;
  if (outcome.kind === 'unknown') {
    // Every answer was lost: the sync record, written in the same transaction, says whether it landed.
    const retryAnswers = 'answers unchanged for the pools it applied';
    if (!sync) throw outcomeUnknown('applying the pool file', retryAnswers);
    const landed = await ctx.table.get(syncKey(sync), finalCheck()).catch((e: unknown) => {
      throw outcomeUnknown('applying the pool file', retryAnswers, e);
    });
    if (landed) return;
    throw unavailable('applying the pool file');
  }
  // A condition failed (another registration, a sweep settling a page) or DynamoDB was busy: plan again.
  throw new RegistryChanged();
}

