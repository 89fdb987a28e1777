/**
 * Changing what an owner's allocation carries: a JSON merge patch of its labels. One GetItem of the
 * allocation record, then one conditional update of it (on its request id and its labels version,
 * see labelsWrite); a failed condition reads the record again and merges again. The value, the owner
 * and the chunks are never touched. The record carries who changed it and when; the change stream
 * makes that a history entry.
 */
import { randomUUID } from 'node:crypto';
import { MAX_LABELS, mergeLabels, tooMany } from '../labels.js';
import { PoolError } from '../errors.js';
import type { Allocation, RelabelRequest } from '../model.js';
import type { StoreContext } from './context.js';
import { getHolding, toAllocation } from './holdings.js';
import { Pacing } from './pacing.js';
import { readPool } from './pool-view.js';
import { ownerHoldsNothing, poolNotFound, unavailable } from './store-errors.js';
import { labelsWrite } from './writes.js';

export async function relabel(ctx: StoreContext, req: RelabelRequest): Promise<Allocation> {
  const budget = ctx.budget();
  const { view } = await readPool(ctx, req.pool, budget);
  if (!view) throw poolNotFound(req.pool);
  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  const requestId = randomUUID();
  while (pacing.more()) {
    const held = await getHolding(ctx, req.pool, req.owner, budget);
    if (!held) throw ownerHoldsNothing(req.pool, req.owner);
    const labels = mergeLabels(held.labels ?? {}, req.patch);
    const count = Object.keys(labels).length;
    if (count > MAX_LABELS) throw new PoolError('INVALID_ARGUMENT', `labels: ${tooMany(count)}`);
    try {
      // Writing the same merge twice changes nothing, so a lost answer may be sent again.
      await ctx.table.write(labelsWrite(held, labels, { at: ctx.isoNow(), by: req.by ?? 'unknown', requestId }), budget, { idempotent: true });
      return toAllocation({ ...held, labels });
    } catch (e) {
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      await pacing.conflict();
    }
  }
  throw unavailable(`label change in pool '${req.pool}'`);
}
