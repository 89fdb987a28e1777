/**
 * Model-based property test: random programs of allocate / explicit allocate / release by value /
 * release by owner, run by several concurrent clients (each its own store, like separate Lambda
 * instances) on one pool in DynamoDB Local, then compared with a model.
 *
 * Each owner belongs to one client, so what happens to an owner is sequential and the model predicts
 * it exactly. What depends on other owners (VALUE_IN_USE, RESOURCE_EXHAUSTED, OWNER_MISMATCH) is
 * checked against the timeline: an answer is accepted only if some moment inside the call could have
 * produced it. Two owners are never allowed to surely hold the same value at the same moment.
 */
import { fc } from '@fast-check/vitest';
import { beforeAll, describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import { PoolStore } from '../../lib/store/index.js';
import { type PoolType, parseConfigValue, showValue, type ValueSpace } from '../../lib/values.js';
import { freshStore, register, storeOn } from '../support/store.js';

type Op =
  | { kind: 'allocate'; owner: number }
  | { kind: 'allocateValue'; owner: number; value: number }
  | { kind: 'releaseValue'; owner: number; value: number }
  | { kind: 'releaseOwner'; owner: number };

interface Program {
  type: PoolType;
  autoValues: number;
  manualValues: number;
  clients: Op[][];
}

interface Event {
  client: number;
  owner: string;
  op: Op;
  start: number;
  end: number;
  /** The value involved, as an offset into the pool (auto values first, then manual ones). */
  value?: number;
  result: 'ok' | 'ok-existing' | string;
}

const OWNERS_PER_CLIENT = 3;

const programArb: fc.Arbitrary<Program> = fc
  .record({
    type: fc.constantFrom<PoolType>('integer', 'ipv4', 'ipv6'),
    autoValues: fc.integer({ min: 4, max: 14 }),
    manualValues: fc.integer({ min: 0, max: 4 }),
    clientCount: fc.integer({ min: 2, max: 6 }),
  })
  .chain(({ type, autoValues, manualValues, clientCount }) => {
    const total = autoValues + manualValues;
    const owner = fc.integer({ min: 0, max: OWNERS_PER_CLIENT - 1 });
    const value = fc.integer({ min: 0, max: total }); // `total` itself lies outside the pool
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: owner.map((o) => ({ kind: 'allocate' as const, owner: o })) },
      { weight: 2, arbitrary: fc.tuple(owner, value).map(([o, v]) => ({ kind: 'allocateValue' as const, owner: o, value: v })) },
      { weight: 2, arbitrary: fc.tuple(owner, value).map(([o, v]) => ({ kind: 'releaseValue' as const, owner: o, value: v })) },
      { weight: 2, arbitrary: owner.map((o) => ({ kind: 'releaseOwner' as const, owner: o })) },
    );
    return fc.record({
      type: fc.constant(type),
      autoValues: fc.constant(autoValues),
      manualValues: fc.constant(manualValues),
      clients: fc.array(fc.array(op, { minLength: 10, maxLength: 30 }), { minLength: clientCount, maxLength: clientCount }),
    });
  });

/** Pool values as offsets: each run gets its own slice of the value space, so pools never overlap. */
function valueSpace(type: PoolType, run: number): { base: bigint; text: (offset: number) => string | number } {
  const base = type === 'integer' ? BigInt(1_000_000 + run * 100) : type === 'ipv4' ? 0x0a000000n + BigInt(run * 256) : 0x20010db8n << 96n | BigInt(run * 256);
  return {
    base,
    text: (offset) => {
      const v = showValue(type, base + BigInt(offset));
      return type === 'integer' ? Number(v) : v;
    },
  };
}

function poolToml(name: string, p: Program, space: ReturnType<typeof valueSpace>): string {
  const q = (offset: number) => JSON.stringify(space.text(offset));
  const ranges = [`{ start = ${q(0)}, end = ${q(p.autoValues)} }`];
  if (p.manualValues > 0) ranges.push(`{ start = ${q(p.autoValues)}, end = ${q(p.autoValues + p.manualValues)}, auto_assign = false }`);
  return `[pools.${name}]\ntype = "${p.type}"\nranges = [${ranges.join(', ')}]`;
}

describe('store against a model', () => {
  let store: PoolStore;
  let run = 0;
  let operations = 0;
  /** MODEL_RUNS raises the number of programs for a soak run; CI keeps the default. */
  const runs = Number(process.env.MODEL_RUNS ?? 40);
  beforeAll(async () => {
    store = await freshStore();
  });

  test('random concurrent programs agree with the model', { timeout: 6_000 * runs }, async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (program) => {
        run++;
        const name = `m${run}`;
        const space = valueSpace(program.type, run);
        await register(store, poolToml(name, program, space));
        const total = program.autoValues + program.manualValues;
        const val = (offset: number) => (s: ValueSpace) => parseConfigValue(s, space.text(offset));
        const offsetOf = (v: bigint) => Number(v - space.base);
        const events: Event[] = [];
        const t0 = performance.now();

        await Promise.all(
          program.clients.map(async (ops, client) => {
            const s = storeOn(store.tableName);
            for (const op of ops) {
              const owner = `c${client}-o${op.owner}`;
              const start = performance.now() - t0;
              let result: string;
              let value = 'value' in op ? op.value : undefined;
              try {
                if (op.kind === 'allocate' || op.kind === 'allocateValue') {
                  const r = await s.allocate({ pool: name, owner, value: op.kind === 'allocateValue' ? val(op.value) : undefined });
                  value = offsetOf(r.allocation.value);
                  result = r.created ? 'ok' : 'ok-existing';
                } else if (op.kind === 'releaseValue') {
                  await s.release({ pool: name, owner, value: val(op.value) });
                  result = 'ok';
                } else {
                  await s.release({ pool: name, owner });
                  result = 'ok';
                }
              } catch (e) {
                if (!isPoolError(e)) throw e;
                result = e.code;
              }
              events.push({ client, owner, op, start, end: performance.now() - t0, value, result });
            }
          }),
        );
        operations += events.length;

        // Per owner, in order: the model predicts every answer that depends on the owner alone.
        const holds = new Map<string, number>();
        /** Holding intervals: surely held from the allocation's answer to the release's call. */
        const intervals: { owner: string; value: number; from: number; to: number; possiblyFrom: number; possiblyTo: number }[] = [];
        const openSince = new Map<string, { value: number; from: number; possiblyFrom: number }>();
        const byOwner = new Map<string, Event[]>();
        for (const e of events) byOwner.set(e.owner, [...(byOwner.get(e.owner) ?? []), e]);
        for (const [owner, list] of byOwner) {
          for (const e of list) {
            const held = holds.get(owner);
            const { op } = e;
            const where = `${owner} ${JSON.stringify(op)} → ${e.result}`;
            if (op.kind === 'allocate' || op.kind === 'allocateValue') {
              const wanted = op.kind === 'allocateValue' ? op.value : undefined;
              if (wanted !== undefined && wanted >= total) expect(e.result, where).toBe('VALUE_NOT_IN_POOL');
              else if (held !== undefined && wanted !== undefined && wanted !== held) expect(e.result, where).toBe('OWNER_CONFLICT');
              else if (held !== undefined) {
                expect(e.result, where).toBe('ok-existing');
                expect(e.value, where).toBe(held);
              } else {
                expect(['ok', wanted === undefined ? 'RESOURCE_EXHAUSTED' : 'VALUE_IN_USE'], where).toContain(e.result);
                if (e.result === 'ok') {
                  if (wanted !== undefined) expect(e.value, where).toBe(wanted);
                  else expect(e.value! < program.autoValues, `${where}: auto values only`).toBe(true);
                  holds.set(owner, e.value!);
                  openSince.set(owner, { value: e.value!, from: e.end, possiblyFrom: e.start });
                }
              }
            } else {
              const wanted = op.kind === 'releaseValue' ? op.value : undefined;
              if (wanted !== undefined && wanted >= total) expect(e.result, where).toBe('VALUE_NOT_IN_POOL');
              else if (held !== undefined && (wanted === undefined || wanted === held)) {
                expect(e.result, where).toBe('ok');
                const open = openSince.get(owner)!;
                intervals.push({ owner, value: open.value, from: open.from, to: e.start, possiblyFrom: open.possiblyFrom, possiblyTo: e.end });
                holds.delete(owner);
                openSince.delete(owner);
              } else if (wanted === undefined) expect(e.result, where).toBe('NOT_ALLOCATED');
              else expect(['NOT_ALLOCATED', 'OWNER_MISMATCH'], where).toContain(e.result);
            }
          }
        }
        for (const [owner, open] of openSince) intervals.push({ owner, value: open.value, from: open.from, to: Infinity, possiblyFrom: open.possiblyFrom, possiblyTo: Infinity });

        // Across owners: never two sure holders of one value at once ...
        for (const a of intervals) {
          for (const b of intervals) {
            if (a !== b && a.value === b.value && a.owner !== b.owner) {
              expect(a.from < b.to && b.from < a.to, `${a.owner} and ${b.owner} both held ${a.value}`).toBe(false);
            }
          }
        }
        // ... and answers about others only when some moment in the call could give them.
        const possiblyHeld = (value: number, e: Event) =>
          intervals.some((i) => i.owner !== e.owner && i.value === value && i.possiblyFrom < e.end && e.start < i.possiblyTo);
        for (const e of events) {
          if (e.result === 'VALUE_IN_USE' || e.result === 'OWNER_MISMATCH') {
            expect(possiblyHeld(e.value!, e), `${e.owner} ${JSON.stringify(e.op)} → ${e.result}`).toBe(true);
          }
          if (e.result === 'RESOURCE_EXHAUSTED') {
            const allTaken = Array.from({ length: program.autoValues }, (_, v) => v).every((v) => possiblyHeld(v, e));
            expect(allTaken, `${e.owner} exhausted while a value was surely free`).toBe(true);
          }
        }

        // Finally the store holds exactly what the model holds, and check agrees with itself.
        const listed = (await store.allocations(name, { limit: 1000 })).allocations;
        expect(new Map(listed.map((a) => [a.owner, offsetOf(a.value)]))).toEqual(holds);
        expect((await store.pool(name)).used).toBe(holds.size);
        const report = await store.check();
        expect(report.pools.find((p) => p.name === name)?.problems).toEqual([]);
      }),
      { numRuns: runs },
    );
    expect(operations).toBeGreaterThan(2000);
  });
});
