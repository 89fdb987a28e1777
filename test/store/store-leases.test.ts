/**
 * Leases on DynamoDB Local: an allocation with a lease shows when it ends, a renewal moves it, and the
 * sweeper releases exactly the leases that ran out (and nothing else), each with an `expired` entry;
 * a renewal racing the sweeper either renews (the value stays) or finds it released, never both.
 * Time is a clock the test moves, set an hour in the past so that what the store stamps (chunk write
 * times) never lies in the future of the real clock that check waits on.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { isPoolError } from '../../lib/errors.js';
import type { Allocation } from '../../lib/model.js';
import { LEASE_SWEEPER } from '../../lib/leases.js';
import type { PoolStore } from '../../lib/store/index.js';
import { interceptedClient } from '../support/faults.js';
import { type RecordedHistory, recordHistory } from '../support/history.js';
import { blockOf, freshStore, register, storeOn } from '../support/store.js';
import { codeOf, spread } from '../support/concurrency.js';

const POOL = '[pools.p]\ntype = "integer"\nranges = [{ start = 10000, end = 11024 }]';
const T0 = Date.now() - 3_600_000;
const at = (seconds: number) => new Date(T0 + seconds * 1000);

/** A clock the test sets; every store of a test shares it. */
function clock() {
  let seconds = 0;
  return { now: () => at(seconds), set: (s: number) => void (seconds = s) };
}

/** Sweeps until a run says it left nothing, as the scheduled runs would. */
async function sweepAll(store: PoolStore, now: Date, perShard?: number): Promise<Allocation[]> {
  const out: Allocation[] = [];
  for (let runs = 0; runs < 100; runs++) {
    const r = await store.expireLeases({ now, perShard });
    expect(r.failed).toBe(0);
    out.push(...r.expired);
    if (!r.more) return out;
  }
  throw new Error('the sweep did not finish in 100 runs');
}

const running: RecordedHistory[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stream.stop();
});

describe('leases', () => {
  test('expires_at is the allocation time plus the lease; a retry answers the lease held without renewing; a renewal moves it from now', async () => {
    const c = clock();
    const store = await freshStore({ now: c.now });
    await register(store, POOL);
    const first = await store.allocate({ pool: 'p', owner: 'vm-1', leaseSeconds: 600 });
    expect(first.allocation.expiresAt).toBe(at(600).toISOString());
    expect((await store.allocate({ pool: 'p', owner: 'plain' })).allocation.expiresAt).toBeUndefined();

    c.set(100);
    const retry = await store.allocate({ pool: 'p', owner: 'vm-1', leaseSeconds: 3600 });
    expect(retry).toMatchObject({ created: false, allocation: { value: first.allocation.value, expiresAt: at(600).toISOString() } });

    const renewed = await store.relabel({ pool: 'p', owner: 'vm-1', leaseSeconds: 900 });
    expect(renewed.expiresAt).toBe(at(1000).toISOString());
    expect((await store.findByOwner('p', 'vm-1')).expiresAt).toBe(at(1000).toISOString());
    // A lease turned on for an allocation without one, with labels in the same change.
    const turnedOn = await store.relabel({ pool: 'p', owner: 'plain', leaseSeconds: 60, patch: { team: 'a' } });
    expect(turnedOn).toMatchObject({ expiresAt: at(160).toISOString(), labels: { team: 'a' } });
    expect(await store.findByOwner('p', 'plain')).toMatchObject({ expiresAt: at(160).toISOString(), labels: { team: 'a' } });
    // A label change alone leaves the lease as it is.
    expect((await store.relabel({ pool: 'p', owner: 'vm-1', patch: { x: 'y' } })).expiresAt).toBe(at(1000).toISOString());

    for (const bad of [59, 31_536_001, 1.5, 0, -60]) {
      const e = await store.allocate({ pool: 'p', owner: 'bad', leaseSeconds: bad }).catch((x: unknown) => x);
      expect(isPoolError(e, 'INVALID_ARGUMENT')).toBe(true);
      expect((e as Error).message).toContain('lease_seconds must be a whole number of seconds from 60 to 31,536,000');
      expect(await codeOf(store.relabel({ pool: 'p', owner: 'vm-1', leaseSeconds: bad }))).toBe('INVALID_ARGUMENT');
    }
    expect(await codeOf(store.relabel({ pool: 'p', owner: 'nobody', leaseSeconds: 60 }))).toBe('NOT_ALLOCATED');
    expect((await store.pool('p')).used).toBe(2);
  });

  test('200 leased allocations from 8 clients, half renewed: the sweep releases exactly the others, and nothing without a lease', async () => {
    const c = clock();
    const store = await freshStore({ now: c.now });
    await register(store, POOL);
    const clients = Array.from({ length: 8 }, () => storeOn(store.tableName, { now: c.now }));
    const owners = Array.from({ length: 200 }, (_, i) => `vm-${i}`);
    const leased = await spread(owners, clients, async (s, owner) => (await s.allocate({ pool: 'p', owner, leaseSeconds: 300 })).allocation);
    expect(new Set(leased.map((a) => a.value)).size).toBe(200);
    expect(leased.every((a) => a.expiresAt === at(300).toISOString())).toBe(true);
    // Held without a lease, and a leased block: the one is never touched, the other goes whole.
    await spread(['plain-0', 'plain-1', 'plain-2'], clients, (s, owner) => s.allocate({ pool: 'p', owner }));
    await store.allocate({ pool: 'p', owner: 'block', size: blockOf(16), leaseSeconds: 300 });

    c.set(200);
    const renewedOwners = owners.filter((_, i) => i % 2 === 0);
    const renewals = await spread(renewedOwners, clients, (s, owner) => s.relabel({ pool: 'p', owner, leaseSeconds: 300 }));
    expect(renewals.every((a) => a.expiresAt === at(500).toISOString())).toBe(true);

    // Before anything ran out, a sweep releases nothing.
    expect(await sweepAll(store, at(299))).toEqual([]);

    c.set(400);
    // Small runs: the sweep is bounded, says so, and the next run goes on where it stopped.
    const expired = await sweepAll(store, at(400), 10);
    const unrenewed = [...owners.filter((_, i) => i % 2 === 1), 'block'];
    expect(expired.map((a) => a.owner).sort()).toEqual(unrenewed.sort());
    expect(await sweepAll(store, at(400))).toEqual([]);

    for (const owner of unrenewed) expect(await codeOf(store.findByOwner('p', owner))).toBe('NOT_ALLOCATED');
    for (const owner of [...renewedOwners, 'plain-0', 'plain-1', 'plain-2']) expect(await codeOf(store.findByOwner('p', owner))).toBe('ok');
    expect((await store.pool('p')).used).toBe(103);
    const report = await store.check();
    expect(report.pools[0].problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, pools: [{ used: 103, allocations: 103 }] });
    // The values released are free again: others can take them by name.
    const again = await spread(
      expired.filter((a) => a.size === 1).slice(0, 20),
      clients,
      async (s, a) => (await s.allocate({ pool: 'p', owner: `again-${a.owner}`, value: () => ({ ok: true, value: a.value }) })).created,
    );
    expect(again).toEqual(Array(20).fill(true));
  }, 120_000);

  test('a renewal racing the sweep either renews (the value stays) or finds it released, never both: 160 races', async () => {
    const c = clock();
    c.set(110);
    const store = await freshStore({ now: c.now });
    await register(store, POOL);
    const sweepers = Array.from({ length: 2 }, () => storeOn(store.tableName, { now: c.now }));
    const renewers = Array.from({ length: 8 }, () => storeOn(store.tableName, { now: c.now }));
    const allocator = storeOn(store.tableName, { now: () => at(0) });
    let renewed = 0;
    let released = 0;
    for (let round = 0; round < 16; round++) {
      const owners = Array.from({ length: 10 }, (_, i) => `r${round}-${i}`);
      await Promise.all(owners.map((owner) => allocator.allocate({ pool: 'p', owner, leaseSeconds: 60 })));
      // Two sweeps (one scheduled run overlapping the next) and the renewals, all at once.
      const [a, b, outcomes] = await Promise.all([
        sweepers[0].expireLeases({ now: at(120) }),
        sweepers[1].expireLeases({ now: at(120) }),
        // Spread over the sweep's own time, so that renewals land before, during and after its writes.
        Promise.all(owners.map(async (owner, i) => {
          await new Promise((r) => setTimeout(r, Math.random() * 250));
          return codeOf(renewers[i % renewers.length].relabel({ pool: 'p', owner, leaseSeconds: 60 }));
        })),
      ]);
      expect(a.failed + b.failed).toBe(0);
      const swept = [...a.expired, ...b.expired].map((x) => x.owner);
      // A lease is released once, by one sweep.
      expect(new Set(swept).size).toBe(swept.length);
      for (const [i, owner] of owners.entries()) {
        const held = await codeOf(store.findByOwner('p', owner));
        if (outcomes[i] === 'ok') {
          expect([owner, held, swept.includes(owner)]).toEqual([owner, 'ok', false]);
          expect((await store.findByOwner('p', owner)).expiresAt).toBe(at(170).toISOString());
          renewed++;
        } else {
          expect([owner, outcomes[i], held, swept.includes(owner)]).toEqual([owner, 'NOT_ALLOCATED', 'NOT_ALLOCATED', true]);
          released++;
        }
      }
    }
    expect(renewed + released).toBe(160);
    // Whatever was renewed is still there for a later sweep, and a sweep past its renewed end takes it.
    expect((await sweepAll(store, at(169))).length).toBe(0);
    expect((await sweepAll(store, at(171))).length).toBe(renewed);
    expect((await store.pool('p')).used).toBe(0);
    expect((await store.check()).ok).toBe(true);
  }, 120_000);

  test('a renewal that lands between the sweep reading the record and its delete wins: the value stays held, renewed', async () => {
    const store = await freshStore({ now: () => at(0) });
    await register(store, POOL);
    const { allocation } = await store.allocate({ pool: 'p', owner: 'vm', leaseSeconds: 60 });
    const renewer = storeOn(store.tableName, { now: () => at(110) });
    let renewed: Allocation | undefined;
    const sweeper = storeOn(store.tableName, {
      now: () => at(120),
      client: interceptedClient(async (command, _input, send) => {
        if (command === 'TransactWriteItemsCommand' && !renewed) renewed = await renewer.relabel({ pool: 'p', owner: 'vm', leaseSeconds: 60 });
        return send();
      }),
    });
    expect(await sweeper.expireLeases()).toEqual({ expired: [], failed: 0, more: false });
    expect(renewed?.expiresAt).toBe(at(170).toISOString());
    expect(await store.findByOwner('p', 'vm')).toMatchObject({ value: allocation.value, expiresAt: at(170).toISOString() });
    expect((await store.pool('p')).used).toBe(1);
    expect((await store.check()).ok).toBe(true);
  });

  test('a sweep that lands between a renewal reading the record and its write wins: NOT_ALLOCATED, and the owner\'s next allocation is not renewed', async () => {
    const store = await freshStore({ now: () => at(0) });
    await register(store, POOL);
    await store.allocate({ pool: 'p', owner: 'vm', leaseSeconds: 60 });
    const sweeper = storeOn(store.tableName, { now: () => at(120) });
    let swept: Allocation[] | undefined;
    const renewer = storeOn(store.tableName, {
      now: () => at(110),
      client: interceptedClient(async (command, _input, send) => {
        if (command === 'UpdateItemCommand' && !swept) {
          swept = (await sweeper.expireLeases()).expired;
          // The owner allocates again (a new allocation, without a lease) before the renewal arrives.
          await sweeper.allocate({ pool: 'p', owner: 'vm' });
        }
        return send();
      }),
    });
    expect(await codeOf(renewer.relabel({ pool: 'p', owner: 'vm', leaseSeconds: 60 }))).toBe('NOT_ALLOCATED');
    expect(swept?.map((a) => a.owner)).toEqual(['vm']);
    expect((await store.findByOwner('p', 'vm')).expiresAt).toBeUndefined();
    expect((await store.pool('p')).used).toBe(1);
  });

  test('an expiry is one `expired` history entry by the lease sweeper, published as an event, and no `released` entry', async () => {
    const c = clock();
    const store = await freshStore({ now: c.now }, { changeStream: true });
    await register(store, POOL);
    const history = await recordHistory(store);
    running.push(history);
    const { allocation } = await store.allocate({ pool: 'p', owner: 'vm-1', leaseSeconds: 60, labels: { team: 'a' }, by: 'arn:aws:iam::1:role/a' });
    c.set(30);
    await store.relabel({ pool: 'p', owner: 'vm-1', leaseSeconds: 60 });
    c.set(100);
    expect((await store.expireLeases()).expired.map((a) => a.owner)).toEqual(['vm-1']);
    await history.settle();
    const entries = (await store.history({ pool: 'p', limit: 100 })).entries;
    expect(entries.map((e) => [e.event, e.by])).toEqual([
      ['expired', LEASE_SWEEPER],
      ['allocated', 'arn:aws:iam::1:role/a'],
    ]);
    expect(entries[0]).toMatchObject({ value: allocation.value, owner: 'vm-1', labels: { team: 'a' }, at: at(100).toISOString() });
    // Published as the stream delivers them: the sweeper's entry may come before the allocation's, which the handler writes.
    expect(history.events.map((e) => e.event).sort()).toEqual(['allocated', 'expired']);
  });
});
