/**
 * Every route of docs/API.md, plus `GET /v1/check` for the CLI's `check`. Handlers stay thin:
 * the request is already validated; they call lib/ and shape the answer with lib/shapes.ts.
 */
import { POOL_NAME_PATTERN, POOL_NAME_RULE } from '../../lib/config.js';
import { PoolError } from '../../lib/errors.js';
import { registerFile } from '../../lib/registration.js';
import { allocationJson, historyJson, poolJson } from '../../lib/shapes.js';
import { parseBlockValue, requestedSize } from '../../lib/blocks.js';
import type * as z from 'zod';
import { type AllocationRequest, MAX_BATCH_ITEMS, MAX_IMPORT_ITEMS, type SizeInput, type SyncRecord, type ValueInput } from '../../lib/model.js';
import { MAX_TRANSACTION_ITEMS } from '../../lib/store/index.js';
import { parsePathValue } from '../../lib/values.js';
import { invalidBatch } from './errors.js';
import { openApiDocument } from './openapi.js';
import { defineRoute, type Route } from './route.js';
import {
  AllocateRequest,
  Allocation,
  BatchAllocateRequest,
  BatchAllocations,
  BatchReleaseRequest,
  BatchReleases,
  AllocationPage,
  CheckQuery,
  CheckReport,
  ConfigFile,
  ConfigQuery,
  ConfigResult,
  DEFAULT_LIMIT,
  encodeCursor,
  Health,
  HistoryPage,
  HistoryQuery,
  ImportQuery,
  ImportRequest,
  ImportResult,
  LabelsPatch,
  ListQuery,
  OwnerHoldings,
  OwnerOnlyParams,
  OwnerParams,
  Pool,
  PoolList,
  PoolParams,
  PoolPatch,
  ReleaseQuery,
  RetireQuery,
  RetireRequest,
  RetireResult,
  RepairQuery,
  RepairReport,
  shown,
  SyncList,
  ValueParams,
} from './schemas.js';

/** The newest syncs listed; the contract keeps at least the last 100. */
const SYNCS_LISTED = 100;

/**
 * A name that no pool can have is answered like any unknown pool, without asking the table (whose
 * keys would refuse a name of a few kilobytes as a server error).
 */
function poolName(text: string): string {
  if (!POOL_NAME_PATTERN.test(text)) throw new PoolError('POOL_NOT_FOUND', `no pool named ${shown(text)}: pool names are ${POOL_NAME_RULE}`);
  return text;
}

const fromPath =
  (text: string): ValueInput =>
  (type) =>
    parsePathValue(type, text);

function historyPage(page: { entries: Parameters<typeof historyJson>[0][]; next?: string }) {
  return { history: page.entries.map(historyJson), next_cursor: page.next === undefined ? null : encodeCursor(page.next) };
}

const historyBounds = (q: { limit?: number; cursor?: string; since?: string; until?: string }) => ({ limit: q.limit ?? DEFAULT_LIMIT, after: q.cursor, since: q.since, until: q.until });

const HISTORY_NOTE = 'Entries are kept HISTORY_DAYS days (400 by default) and appear within seconds of what they record (they are derived from the table\'s change stream).';

function syncJson(s: SyncRecord) {
  return {
    id: s.id,
    source: s.source,
    status: s.status,
    ...(s.object
      ? { object: { bucket: s.object.bucket, key: s.object.key, version_id: s.object.version_id ?? null, etag: s.object.etag ?? null } }
      : {}),
    at: s.at,
    ...(s.result ? { result: s.result } : {}),
    ...(s.errors ? { errors: s.errors } : {}),
  };
}

const noContent = { description: 'Released.' };

/** An allocation body (of POST …/{pool}/allocations, or an item of a batch) as the store takes it. */
function allocationRequest(pool: string, body: z.output<typeof AllocateRequest>, by: string): AllocationRequest {
  const raw = body.value;
  const value: ValueInput | undefined = raw === undefined ? undefined : (space) => parseBlockValue(space, raw);
  const fields = { prefix_length: body.prefix_length, size: body.size, value: raw };
  const blockAsked = fields.prefix_length !== undefined || fields.size !== undefined || (typeof raw === 'string' && raw.includes('/'));
  const size: SizeInput | undefined = blockAsked ? (space) => requestedSize(space, fields) : undefined;
  return { pool, owner: body.owner, value, size, labels: body.labels as Record<string, string> | undefined, by, leaseSeconds: body.lease_seconds };
}

const BATCH_LIMITS =
  `1-${MAX_BATCH_ITEMS} items, each (pool, owner) once. One DynamoDB transaction holds it all, at most ${MAX_TRANSACTION_ITEMS} items: a single value costs a chunk and a record, ` +
  `but a block spanning many chunks writes one item per chunk; a batch that would write more is INVALID_ARGUMENT saying how many (split it). ` +
  'An error changes nothing: its details list {index, code, message} for each item that failed, and its status is that of the lowest index.';

export const routes: Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/health',
    operationId: 'health',
    summary: 'Liveness: the table answers',
    tags: ['service'],
    responses: { 200: { description: 'The service and its table answer.', schema: Health } },
    errors: ['UNAVAILABLE'],
    async handle(_input, c, deps) {
      try {
        await deps.store.health();
      } catch (e) {
        throw new PoolError('UNAVAILABLE', 'the allocation table does not answer', { cause: e, retryAfterSeconds: 5 });
      }
      return c.json({ status: 'ok' as const }, 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools',
    operationId: 'listPools',
    summary: 'All pools with their counts, by name',
    tags: ['pools'],
    responses: { 200: { description: 'Every registered pool.', schema: PoolList } },
    errors: ['UNAVAILABLE'],
    async handle(_input, c, deps) {
      return c.json({ pools: (await deps.store.pools()).map(poolJson) }, 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools/{pool}',
    operationId: 'getPool',
    summary: 'One pool',
    tags: ['pools'],
    params: PoolParams,
    responses: { 200: { description: 'The pool.', schema: Pool } },
    errors: ['POOL_NOT_FOUND', 'UNAVAILABLE'],
    async handle({ params }, c, deps) {
      return c.json(poolJson(await deps.store.pool(poolName(params.pool))), 200);
    },
  }),

  defineRoute({
    method: 'patch',
    path: '/v1/pools/{pool}',
    operationId: 'patchPool',
    summary: 'Disable or enable a pool',
    description:
      'A disabled pool refuses every new allocation (single, block, batch item) with POOL_DISABLED; lookups, listings, releases and imports still work, and an owner that already holds a value gets it back. ' +
      'An allocation that read the pool just before the switch may still land: disabling is a pause, not a fence.',
    tags: ['pools'],
    params: PoolParams,
    body: { kind: 'json', mediaType: 'application/json', schema: PoolPatch, description: 'Whether the pool refuses new allocations.' },
    responses: { 200: { description: 'The pool as it now is.', schema: Pool } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ params, body }, c, deps) {
      return c.json(poolJson(await deps.store.setDisabled(poolName(params.pool), body.disabled)), 200);
    },
  }),

  defineRoute({
    method: 'delete',
    path: '/v1/pools/{pool}',
    operationId: 'deletePool',
    summary: 'Delete a pool that holds no allocation',
    description:
      'With any allocation, POOL_NOT_EMPTY and nothing changes; a deletion racing allocations either deletes a pool that held none, or refuses. ' +
      'A deleted pool\'s values no longer count for overlap and its name can be registered again; its history is kept. ' +
      'A deletion that could not finish (UNAVAILABLE) leaves the pool refusing allocations; deleting it again finishes it.',
    tags: ['pools'],
    params: PoolParams,
    responses: { 204: { description: 'Deleted.' } },
    errors: ['POOL_NOT_FOUND', 'POOL_NOT_EMPTY', 'UNAVAILABLE'],
    async handle({ params }, c, deps) {
      await deps.store.deletePool(poolName(params.pool));
      return c.body(null, 204);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/pools/{pool}/allocations',
    operationId: 'allocate',
    summary: 'Allocate a value to an owner',
    description:
      'The owner is the idempotency key: one value per (pool, owner), and a retry answers 200 with the value already held. ' +
      'Checks run in this order: request shape, POOL_NOT_FOUND, VALUE_NOT_IN_POOL, the owner\'s holding (200, or OWNER_CONFLICT), VALUE_IN_USE, RESOURCE_EXHAUSTED.',
    tags: ['allocations'],
    params: PoolParams,
    body: { kind: 'json', mediaType: 'application/json', schema: AllocateRequest, description: 'Who allocates, and optionally which value.' },
    responses: {
      201: { description: 'Allocated.', schema: Allocation, headers: { Location: 'The allocation, by value.' } },
      200: { description: 'This owner already holds this value (an idempotent retry).', schema: Allocation },
    },
    errors: ['INVALID_ARGUMENT', 'VALUE_NOT_IN_POOL', 'POOL_NOT_FOUND', 'OWNER_CONFLICT', 'VALUE_IN_USE', 'RESOURCE_EXHAUSTED', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ params, body }, c, deps) {
      const pool = poolName(params.pool);
      const { allocation, created } = await deps.store.allocate(allocationRequest(pool, body, c.get('caller')));
      const json = allocationJson(allocation);
      if (!created) return c.json(json, 200);
      // A path names a block (and a prefix pool's value) by its first address: a '/' cannot travel in a segment.
      const first = String(json.value).split('/')[0];
      return c.json(json, 201, { Location: `/v1/pools/${encodeURIComponent(pool)}/allocations/${encodeURIComponent(first)}` });
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools/{pool}/allocations',
    operationId: 'listAllocations',
    summary: 'Allocations in value order, a page at a time',
    tags: ['allocations'],
    params: PoolParams,
    query: ListQuery,
    responses: { 200: { description: 'One page.', schema: AllocationPage } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'UNAVAILABLE'],
    async handle({ params, query }, c, deps) {
      const page = await deps.store.allocations(poolName(params.pool), { limit: query.limit ?? DEFAULT_LIMIT, after: query.cursor, labels: query.label });
      return c.json({ allocations: page.allocations.map(allocationJson), next_cursor: page.next === undefined ? null : encodeCursor(page.next) }, 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools/{pool}/allocations/{value}',
    operationId: 'getAllocationByValue',
    summary: 'Who holds a value',
    tags: ['allocations'],
    params: ValueParams,
    responses: { 200: { description: 'The allocation of this value.', schema: Allocation } },
    errors: ['INVALID_ARGUMENT', 'VALUE_NOT_IN_POOL', 'POOL_NOT_FOUND', 'NOT_ALLOCATED', 'UNAVAILABLE'],
    async handle({ params }, c, deps) {
      return c.json(allocationJson(await deps.store.findByValue(poolName(params.pool), fromPath(params.value))), 200);
    },
  }),

  defineRoute({
    method: 'delete',
    path: '/v1/pools/{pool}/allocations/{value}',
    operationId: 'releaseValue',
    summary: 'Release a value; only its owner may',
    tags: ['allocations'],
    params: ValueParams,
    query: ReleaseQuery,
    responses: { 204: noContent },
    errors: ['INVALID_ARGUMENT', 'VALUE_NOT_IN_POOL', 'POOL_NOT_FOUND', 'NOT_ALLOCATED', 'OWNER_MISMATCH', 'UNAVAILABLE'],
    async handle({ params, query }, c, deps) {
      await deps.store.release({ pool: poolName(params.pool), owner: query.owner, value: fromPath(params.value), by: c.get('caller') });
      return c.body(null, 204);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools/{pool}/owners/{owner}',
    operationId: 'getAllocationByOwner',
    summary: 'What an owner holds',
    tags: ['allocations'],
    params: OwnerParams,
    responses: { 200: { description: 'The allocation of this owner.', schema: Allocation } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'NOT_ALLOCATED', 'UNAVAILABLE'],
    async handle({ params }, c, deps) {
      return c.json(allocationJson(await deps.store.findByOwner(poolName(params.pool), params.owner)), 200);
    },
  }),

  defineRoute({
    method: 'delete',
    path: '/v1/pools/{pool}/owners/{owner}',
    operationId: 'releaseOwner',
    summary: 'Release what an owner holds',
    tags: ['allocations'],
    params: OwnerParams,
    responses: { 204: noContent },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'NOT_ALLOCATED', 'UNAVAILABLE'],
    async handle({ params }, c, deps) {
      await deps.store.release({ pool: poolName(params.pool), owner: params.owner, by: c.get('caller') });
      return c.body(null, 204);
    },
  }),

  defineRoute({
    method: 'patch',
    path: '/v1/pools/{pool}/owners/{owner}',
    operationId: 'relabelOwner',
    summary: 'Change the labels of what an owner holds, or renew its lease',
    description:
      'labels: a JSON merge patch (RFC 7396) of the labels, a key set to null is removed. lease_seconds: the lease renewed for that long from now, or turned on for an allocation without one. ' +
      'The value and the owner never change; a change racing a release (or the lease running out) finds nothing (NOT_ALLOCATED) and brings nothing back: a renewal either renews what is still held or is NOT_ALLOCATED, never both.',
    tags: ['allocations'],
    params: OwnerParams,
    body: { kind: 'json', mediaType: 'application/json', schema: LabelsPatch, description: 'The labels to set (null removes one), the lease to renew, or both.' },
    responses: { 200: { description: 'The allocation with its new labels and lease.', schema: Allocation } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'NOT_ALLOCATED', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ params, body }, c, deps) {
      return c.json(allocationJson(await deps.store.relabel({ pool: poolName(params.pool), owner: params.owner, patch: body.labels, leaseSeconds: body.lease_seconds, by: c.get('caller') })), 200);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/pools/{pool}/retire',
    operationId: 'retireValues',
    summary: 'Take free values out of a pool',
    description:
      'Only if none of them is held: otherwise VALUE_IN_USE listing the held ones (details.held), and nothing changes. Retired values are no longer in the pool (size shrinks, a request naming one is VALUE_NOT_IN_POOL) and no longer count for overlap. ' +
      'Registration is still additive: a later pool file that holds them adds them back, so take them out of the site\'s pools file too. A retirement racing allocations either retires values none of them holds, or refuses.',
    tags: ['pools'],
    params: PoolParams,
    query: RetireQuery,
    body: { kind: 'json', mediaType: 'application/json', schema: RetireRequest, description: 'Ranges [start, end) and single values (or CIDR blocks) to retire.' },
    responses: { 200: { description: 'How many values were retired (or would be), and the pool.', schema: RetireResult } },
    errors: ['INVALID_ARGUMENT', 'VALUE_NOT_IN_POOL', 'POOL_NOT_FOUND', 'VALUE_IN_USE', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ params, query, body }, c, deps) {
      const pool = poolName(params.pool);
      const input = (raw: unknown): ValueInput => (space) => parseBlockValue(space, raw);
      const ranges = (body.ranges ?? []).map((r) => ({ start: input(r.start), end: input(r.end) }));
      const values = (body.values ?? []).map((raw) => ({ value: input(raw), size: typeof raw === 'string' && raw.includes('/') ? (space: Parameters<SizeInput>[0]) => requestedSize(space, { value: raw }) : undefined }));
      const result = await deps.store.retire({ pool, ranges, values }, { dryRun: query.dry_run === true });
      return c.json({ retired: result.retired, pool: poolJson(result.pool) }, 200);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/pools/{pool}/import',
    operationId: 'importAllocations',
    summary: 'Adopt allocations made outside the service, all or nothing',
    description:
      `1-${MAX_IMPORT_ITEMS} items, each created as an explicit allocation of its value, keeping allocated_at when given; an item the same owner already holds as given is unchanged. ` +
      'Any conflict (a value held by another owner, an owner holding another value, a value outside the pool) rejects the whole call: details lists {index, code, message} per item and nothing changes. ' +
      'A disabled pool takes imports. History records each as imported.',
    tags: ['pools'],
    params: PoolParams,
    query: ImportQuery,
    body: {
      kind: 'json',
      mediaType: 'application/json',
      schema: ImportRequest,
      description: 'The allocations to adopt.',
      invalid: invalidBatch('allocations', 'nothing was imported'),
    },
    responses: { 200: { description: 'How many were imported (or would be, in a dry run), and how many were already held as given.', schema: ImportResult } },
    errors: ['INVALID_ARGUMENT', 'VALUE_NOT_IN_POOL', 'POOL_NOT_FOUND', 'OWNER_CONFLICT', 'VALUE_IN_USE', 'POOL_DISABLED', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ params, query, body }, c, deps) {
      const pool = poolName(params.pool);
      const by = c.get('caller');
      const items = body.allocations.map((item) => ({ ...allocationRequest(pool, item, by), allocatedAt: item.allocated_at }));
      return c.json(await deps.store.importAllocations(pool, items, { dryRun: query.dry_run === true, by }), 200);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/allocations',
    operationId: 'allocateBatch',
    summary: 'Allocate a batch, in one or several pools, all or nothing',
    description:
      'Each item is a single allocation body plus its pool, checked in the same order (request shape, POOL_NOT_FOUND, VALUE_NOT_IN_POOL, the owner\'s holding, VALUE_IN_USE, RESOURCE_EXHAUSTED). ' +
      `Either every item is held as asked when it answers, or nothing was allocated. ${BATCH_LIMITS}`,
    tags: ['allocations'],
    body: {
      kind: 'json',
      mediaType: 'application/json',
      schema: BatchAllocateRequest,
      description: 'The allocations, in the order the answer keeps.',
      invalid: invalidBatch('allocations', 'nothing was allocated'),
    },
    responses: {
      201: { description: 'Every item is held as asked; at least one was allocated now.', schema: BatchAllocations },
      200: { description: 'Every item was already held as asked (a retried batch): the same allocations.', schema: BatchAllocations },
    },
    errors: ['INVALID_ARGUMENT', 'VALUE_NOT_IN_POOL', 'POOL_NOT_FOUND', 'OWNER_CONFLICT', 'VALUE_IN_USE', 'RESOURCE_EXHAUSTED', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ body }, c, deps) {
      const by = c.get('caller');
      const { allocations, created } = await deps.store.allocateBatch(body.allocations.map((item) => allocationRequest(item.pool, item, by)));
      return c.json({ allocations: allocations.map(allocationJson) }, created ? 201 : 200);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/releases',
    operationId: 'releaseBatch',
    summary: 'Release a batch of holdings, in one or several pools, in one step',
    description:
      'Each item releases what the owner holds in the pool (as DELETE /v1/pools/{pool}/owners/{owner}); an owner that holds nothing there is answered released: false and fails nothing. ' +
      `Every release is one transaction with its history entry. ${BATCH_LIMITS}`,
    tags: ['allocations'],
    body: {
      kind: 'json',
      mediaType: 'application/json',
      schema: BatchReleaseRequest,
      description: 'The releases, in the order the answer keeps.',
      invalid: invalidBatch('releases', 'nothing was released'),
    },
    responses: { 200: { description: 'Released; released is false for an owner that held nothing there.', schema: BatchReleases } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ body }, c, deps) {
      const released = await deps.store.releaseBatch(body.releases, c.get('caller'));
      return c.json({ releases: released.map(({ pool, owner, released }) => ({ pool, owner, released })) }, 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/owners/{owner}',
    operationId: 'getOwnerHoldings',
    summary: 'Everything an owner holds, in every pool',
    description: 'By pool name, from an index that trails the table by about a second: an allocation made in the last moment may not be listed yet, and nothing released is listed.',
    tags: ['allocations'],
    params: OwnerOnlyParams,
    responses: { 200: { description: 'What the owner holds; an empty list when nothing.', schema: OwnerHoldings } },
    errors: ['INVALID_ARGUMENT', 'UNAVAILABLE'],
    async handle({ params }, c, deps) {
      return c.json({ allocations: (await deps.store.ownerHoldings(params.owner)).map(allocationJson) }, 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools/{pool}/allocations/{value}/history',
    operationId: 'getValueHistory',
    summary: 'Who held a value, and when, newest first',
    description: `Every allocation, release and label change of the value, or of a block that covered it. ${HISTORY_NOTE}`,
    tags: ['history'],
    params: ValueParams,
    query: HistoryQuery,
    responses: { 200: { description: 'One page of entries.', schema: HistoryPage } },
    errors: ['INVALID_ARGUMENT', 'VALUE_NOT_IN_POOL', 'POOL_NOT_FOUND', 'UNAVAILABLE'],
    async handle({ params, query }, c, deps) {
      return c.json(historyPage(await deps.store.history({ pool: poolName(params.pool), value: fromPath(params.value), ...historyBounds(query) })), 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools/{pool}/owners/{owner}/history',
    operationId: 'getOwnerHistory',
    summary: 'What an owner held in the pool, and when, newest first',
    description: HISTORY_NOTE,
    tags: ['history'],
    params: OwnerParams,
    query: HistoryQuery,
    responses: { 200: { description: 'One page of entries.', schema: HistoryPage } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'UNAVAILABLE'],
    async handle({ params, query }, c, deps) {
      return c.json(historyPage(await deps.store.history({ pool: poolName(params.pool), owner: params.owner, ...historyBounds(query) })), 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/pools/{pool}/history',
    operationId: 'getPoolHistory',
    summary: "The pool's timeline, newest first",
    description: HISTORY_NOTE,
    tags: ['history'],
    params: PoolParams,
    query: HistoryQuery,
    responses: { 200: { description: 'One page of entries.', schema: HistoryPage } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'UNAVAILABLE'],
    async handle({ params, query }, c, deps) {
      return c.json(historyPage(await deps.store.history({ pool: poolName(params.pool), ...historyBounds(query) })), 200);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/config',
    operationId: 'applyConfig',
    summary: 'Apply a pool file additively',
    description: 'The same registration path as startup and S3 uploads. A rejected file changes nothing and, unless a dry run, is recorded in the syncs.',
    tags: ['config'],
    query: ConfigQuery,
    body: { kind: 'text', mediaType: 'application/toml', schema: ConfigFile, description: 'The pool file.' },
    responses: { 200: { description: 'Applied, or planned (dry run).', schema: ConfigResult } },
    errors: ['INVALID_ARGUMENT', 'INVALID_CONFIG', 'PAYLOAD_TOO_LARGE', 'UNAVAILABLE'],
    async handle({ query, body }, c, deps) {
      const options = { source: 'http' as const, maxPoolSize: deps.maxPoolSize, dryRun: query.dry_run ?? false };
      const { result } = await registerFile(deps.store, body, options);
      return c.json(result, 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/config/syncs',
    operationId: 'listSyncs',
    summary: 'Recent config applications, applied or rejected, newest first',
    tags: ['config'],
    responses: { 200: { description: `The last ${SYNCS_LISTED} at most.`, schema: SyncList } },
    errors: ['UNAVAILABLE'],
    async handle(_input, c, deps) {
      return c.json({ syncs: (await deps.store.syncs(SYNCS_LISTED)).map(syncJson) }, 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/check',
    operationId: 'check',
    summary: 'Recount pools from their stored state',
    description:
      'A disagreement is reported only when it persists once the items involved are read again, so a busy, healthy pool is ok. ' +
      'Each call answers within a few seconds and reads at a bounded rate; next_cursor continues a check that did not fit.',
    tags: ['service'],
    query: CheckQuery,
    responses: { 200: { description: 'ok is false when any pool checked in this call has a problem.', schema: CheckReport } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'UNAVAILABLE'],
    async handle({ query }, c, deps) {
      return c.json(await deps.store.check({ pool: query.pool === undefined ? undefined : poolName(query.pool), cursor: query.cursor || undefined }), 200);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/check/repair',
    operationId: 'repair',
    summary: 'Mend what check finds and a second read confirms',
    description:
      'A bit set with no allocation record is cleared; a record whose bits are clear gets them set again (the record is what a client was told); a wrong count or room key is rewritten from the chunk\'s bits. ' +
      'Each mend is written on the version the check confirmed, so nothing that moved since is touched, and each is recorded in history (event repaired). ' +
      'A value held by two records, or a record outside the pool, is left for a person. next_cursor continues a repair whose check did not fit in one call.',
    tags: ['service'],
    query: RepairQuery,
    responses: { 200: { description: 'What was mended (or would be, in a dry run).', schema: RepairReport } },
    errors: ['INVALID_ARGUMENT', 'POOL_NOT_FOUND', 'UNAVAILABLE'],
    async handle({ query }, c, deps) {
      const pool = query.pool === undefined ? undefined : poolName(query.pool);
      return c.json(await deps.store.repair({ pool, cursor: query.cursor || undefined, dryRun: query.dry_run === true, by: c.get('caller') }), 200);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This document (OpenAPI 3.1), generated from the schemas the API validates with',
    tags: ['service'],
    responses: { 200: { description: 'The OpenAPI document.' } },
    errors: [],
    handle(_input, c) {
      return c.json(openApiDocument(routes), 200);
    },
  }),
];
