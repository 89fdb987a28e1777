/**
 * Changing what an owner's allocation carries: a JSON merge patch of its labels, its lease renewed
 * from now (or turned on), or both. One GetItem of the allocation record, then one conditional update
 * of it (on its request id, and for labels on its labels version, see labelsWrite and leaseWrite); a
 * failed condition reads the record again and merges again. The value, the owner and the chunks are
 * never touched. The record carries who changed its labels and when; the change stream makes that a
 * history entry (a renewal alone is no history entry).
 */
import { randomUUID } from 'node:crypto';
import { MAX_LABELS, mergeLabels, tooMany } from '../labels.js';
import { PoolError } from '../errors.js';
import { checkLease, leaseEnd } from '../leases.js';
import type { Allocation, RelabelRequest } from '../model.js';
import type { StoreContext } from './context.js';
import { getHolding, toAllocation } from './holdings.js';
import type { HoldingItem } from './items.js';
import { Pacing } from './pacing.js';
import { readPool } from './pool-view.js';
import { leaseGone, ownerHoldsNothing, poolNotFound, unavailable } from './store-errors.js';
import { labelsWrite, leaseWrite } from './writes.js';

export async function relabel(ctx: StoreContext, req: RelabelRequest): Promise<Allocation> {
  if (req.patch === undefined && req.leaseSeconds === undefined) throw new PoolError('INVALID_ARGUMENT', 'a change names labels, lease_seconds, or both');
  checkLease(req.leaseSeconds);
  const budget = ctx.budget();
  const { view } = await readPool(ctx, req.pool, budget);
  if (!view) throw poolNotFound(req.pool);
  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  const requestId = randomUUID();
  /** A renewal holds on to the allocation it read: once that is gone, the lease it meant to renew is too. */
  let renewing: HoldingItem | undefined;
  while (pacing.more()) {
    const held = await getHolding(ctx, req.pool, req.owner, budget);
    if (renewing && held?.rid !== renewing.rid) throw leaseGone(req.pool, req.owner);
    if (!held) throw ownerHoldsNothing(req.pool, req.owner);
    const expires = req.leaseSeconds === undefined ? undefined : leaseEnd(ctx.now(), req.leaseSeconds);
    if (expires) renewing = held;
    const labels = req.patch ? mergeLabels(held.labels ?? {}, req.patch) : undefined;
    const count = labels ? Object.keys(labels).length : 0;
    if (count > MAX_LABELS) throw new PoolError('INVALID_ARGUMENT', `labels: ${tooMany(count)}`);
    try {
      const write = labels ? labelsWrite(held, labels, { at: ctx.isoNow(), by: req.by ?? 'unknown', requestId }, expires) : leaseWrite(held, expires as string);
      // Writing the same change twice changes nothing, so a lost answer may be sent again.
      await ctx.table.write(write, budget, { idempotent: true });
      return toAllocation({ ...held, labels: labels ?? held.labels, expires: expires ?? held.expires });
    } catch (e) {
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      await pacing.conflict();
    }
  }
  throw unavailable(`${req.patch ? 'label change' : 'lease renewal'} in pool '${req.pool}'`);
}

