/**
 * The per-container cache: each pool's layout as last read (keyed by its incarnation and layout
 * version, which every call reads fresh), and hints about where free values are. A pool's layout
 * only ever grows, so a cached layout is never wrong about the values it has, only maybe short of
 * new ones; every answer that depends on it is checked against the pool's definition read in the
 * same call. Hints are only ever a place to look first: what is written is decided by a fresh read
 * and a conditional write.
 */
import type { Layout } from './layout.js';
import type { PageItem } from './items.js';
import type { AllocationOrder } from '../orders.js';
import type { ValueSpace } from '../values.js';

/** Where a free auto_assign value may be: a chunk that had room, or a page with never-written chunks. */
export type Candidate = { kind: 'chunk'; chunk: number } | { kind: 'page'; page: number };

export interface CachedPool {
  /**
   * The incarnation: when the definition was created. A pool deleted and registered again under its
   * name starts again at layout version 1, so the version alone cannot tell its layout from the old one.
   */
  born: string;
  lver: number;
  /** A pool's type (and delegate length) never change. */
  space: ValueSpace;
  layout: Layout;
  pages: PageItem[];
  /**
   * The allocation order of the definition last read: only a hint for choosing before this call's
   * definition is read (a later file may change it), never what an allocation goes by.
   */
  order?: AllocationOrder;
  /** From the last room-index query, dropped one by one as reads find them without room. */
  candidates: Candidate[];
  /** When the candidates were found (epoch ms). */
  candidatesAt: number;
  /** Per segment index: never-written chunks found by the last sweep of that segment. */
  virtualChunks: Map<number, number[]>;
  /** Per segment index: how often a chunk picked as never-written turned out to exist without room. */
  virtualMisses: Map<number, number>;
}

/** Candidates are looked for again after this long even when some are left, so released values are found. */
export const CANDIDATES_TTL_MS = 30_000;
/** Enough pools for the registry's limit, with room for renamed ones. */
const MAX_POOLS_CACHED = 2000;

export class PoolCache {
  private readonly pools = new Map<string, CachedPool>();

  get(pool: string): CachedPool | undefined {
    return this.pools.get(pool);
  }

  /** The entry for this incarnation and layout version of the pool, if that is what is cached. */
  current(pool: string, version: { born: string; lver: number }): CachedPool | undefined {
    const entry = this.pools.get(pool);
    return entry && entry.born === version.born && entry.lver === version.lver ? entry : undefined;
  }

  put(pool: string, version: { born: string; lver: number }, space: ValueSpace, layout: Layout, pages: PageItem[]): CachedPool {
    if (this.pools.size >= MAX_POOLS_CACHED) this.pools.clear();
    const entry: CachedPool = { born: version.born, lver: version.lver, space, layout, pages, candidates: [], candidatesAt: 0, virtualChunks: new Map(), virtualMisses: new Map() };
    this.pools.set(pool, entry);
    return entry;
  }

  forget(pool: string): void {
    this.pools.delete(pool);
  }
}
