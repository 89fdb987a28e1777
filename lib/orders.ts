/**
 * A pool's allocation order: which free value an automatic allocation takes. Pure: the names and their
 * check, shared by pool files, the store and the HTTP schema.
 */

/** `random` spreads concurrent clients over the pool; `lowest` hands out the lowest free value first. */
export const ALLOCATION_ORDERS = ['random', 'lowest'] as const;
export type AllocationOrder = (typeof ALLOCATION_ORDERS)[number];

/** A pool registered without an order allocates at random. */
export const DEFAULT_ALLOCATION_ORDER: AllocationOrder = 'random';

export const ORDERS_TEXT = ALLOCATION_ORDERS.map((o) => `"${o}"`).join(' or ');

export function isAllocationOrder(v: unknown): v is AllocationOrder {
  return typeof v === 'string' && (ALLOCATION_ORDERS as readonly string[]).includes(v);
}
