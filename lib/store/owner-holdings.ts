/**
 * Everything an owner holds, in every pool (a VPC's VNI, its VLAN and its loopbacks), without reading
 * every pool: one Query of the by-owner index, then the records it names read by key (strongly
 * consistent, one BatchGetItem per 100) so that nothing released since is answered. The index trails
 * the table by about a second, so an allocation made in the last moment may not be listed yet.
 */
import type { Allocation } from '../model.js';
import type { StoreContext } from './context.js';
import { toAllocation } from './holdings.js';
import { decodeHolding } from './items.js';
import { holdingKey, TABLE_KEYS } from './keys.js';

export async function ownerHoldings(ctx: StoreContext, owner: string): Promise<Allocation[]> {
  const budget = ctx.budget();
  const entries = [];
  for await (const item of ctx.table.queryAll(
    {
      IndexName: TABLE_KEYS.ownerIndex,
      KeyConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: { '#owner': TABLE_KEYS.ownerIndexPartitionKey },
      ExpressionAttributeValues: { ':owner': owner },
    },
    budget,
  )) {
    entries.push(decodeHolding(item));
  }
  const confirmed = new Map<string, Allocation>();
  for (let i = 0; i < entries.length; i += 100) {
    const keys = entries.slice(i, i + 100).map((e) => holdingKey(e.pool, e.owner));
    for (const item of await ctx.table.batchGet(keys, budget)) {
      const held = decodeHolding(item);
      confirmed.set(held.pool, toAllocation(held));
    }
  }
  return [...confirmed.values()].sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0));
}
