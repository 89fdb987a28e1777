/**
 * Disabling and enabling a pool: a flag on its definition, which every allocation reads fresh, so a
 * disabled pool refuses new allocations from the next call on (POOL_DISABLED); lookups, listings,
 * releases and imports go on. An allocation that read the definition just before the switch may
 * still land: disabling is a pause, not a fence (deletion and retirement have their own).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { PoolCounts } from '../model.js';
import type { StoreContext } from './context.js';
import { countsOf } from './counts.js';
import { readPool } from './pool-view.js';
import { poolNotFound } from './store-errors.js';
import { metaSwitch } from './writes.js';

export async function setDisabled(ctx: StoreContext, pool: string, disabled: boolean): Promise<PoolCounts> {
  const budget = ctx.budget();
  const { view } = await readPool(ctx, pool, budget);
  if (!view) throw poolNotFound(pool);
  if ((view.meta.disabled === true) !== disabled) {
    try {
      await ctx.table.write(metaSwitch(pool, disabled, ctx.isoNow()), budget);
    } catch (e) {
      // Deleted (or its creation undone) between the read and the write.
      if (e instanceof ConditionalCheckFailedException) throw poolNotFound(pool);
      throw e;
    }
  }
  const { view: now } = await readPool(ctx, pool, budget);
  if (!now) throw poolNotFound(pool);
  return countsOf(ctx, now, budget);
}
