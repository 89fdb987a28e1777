/**
 * The `history` line: the same clients allocate and release on two tables of the same DynamoDB Local,
 * one with its change stream read by the history function's handler (history written, events built),
 * one without a stream, in alternating phases of the same length (the stream's backlog is drained
 * before each phase, so that neither side pays for the other). Then every acknowledged allocation and
 * release must be found in the history (`entries_found` = `entries_expected`); `max_lag_ms` is the
 * longest time from an operation to its event being published.
 */
import { UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { createHistoryHandler, eventOf } from '../functions/history.js';
import type { HistoryEntry } from '../lib/model.js';
import { type DynamoDbLocal } from '../local/dynamodb-local.js';
import { startHistoryStream } from '../local/history-stream.js';
import { type Bench, CLIENTS, closedLoop, emit, newBench, progress, round, T } from './harness.js';

const POOL = 'history';
const POOL_SIZE = 65_536;

export async function historyBench(ddb: DynamoDbLocal): Promise<void> {
  progress(`history: ${CLIENTS} clients allocate and release, ${T.rounds} phases of ${T.phaseS} s with history on and off alternately`);
  const on = await newBench(ddb);
  const off = await newBench(ddb);
  // The table as it would be without history: no change stream at all.
  await off.db.send(new UpdateTableCommand({ TableName: off.tableName, StreamSpecification: { StreamEnabled: false } }));
  await on.pool(POOL, POOL_SIZE);
  await off.pool(POOL, POOL_SIZE);

  let maxLag = 0;
  let published = 0;
  const reader = await startHistoryStream({
    endpoint: ddb.endpoint,
    dynamodb: on.db,
    tableName: on.tableName,
    idleMs: 50,
    handler: createHistoryHandler({
      store: on.store(),
      // What putting them on the bus costs here: each event built and serialized.
      publisher: { publish: async (entries: readonly HistoryEntry[]) => void (published += entries.map((e) => JSON.stringify(eventOf(e, 'default'))).length) },
      onLag: (ms) => (maxLag = Math.max(maxLag, ms)),
    }),
  });

  const expected = new Set<string>();
  let serial = 0;
  const cycle = (bench: Bench, record: boolean) => {
    const stores = Array.from({ length: CLIENTS }, () => bench.store());
    return async (client: number) => {
      const owner = `h-${client}-${serial++}`;
      await stores[client].allocate({ pool: POOL, owner, by: 'bench' });
      if (record) expected.add(`allocated ${owner}`);
      await stores[client].release({ pool: POOL, owner, by: 'bench' });
      if (record) expected.add(`released ${owner}`);
    };
  };
  const onCycle = cycle(on, true);
  const offCycle = cycle(off, false);
  const totals = { on: { ok: 0, s: 0 }, off: { ok: 0, s: 0 } };
  try {
    for (let r = 0; r < T.rounds; r++) {
      for (const side of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        await reader.caughtUp(60_000);
        const result = await closedLoop(CLIENTS, T.phaseS, side === 'on' ? onCycle : offCycle);
        totals[side].ok += result.ok;
        totals[side].s += result.seconds;
      }
    }
    for (let i = 0; i < 2; i++) await reader.caughtUp(60_000);
  } finally {
    await reader.stop();
  }

  const found = new Set<string>();
  let after: string | undefined;
  do {
    const page = await on.store().history({ pool: POOL, limit: 1000, after });
    for (const e of page.entries) found.add(`${e.event} ${e.owner}`);
    after = page.next;
  } while (after);
  const entriesFound = [...expected].filter((k) => found.has(k)).length;
  const withHistory = totals.on.ok / totals.on.s;
  const without = totals.off.ok / totals.off.s;
  emit({
    bench: 'history',
    allocs_per_s_with_history: round(withHistory, 1),
    allocs_per_s_without: round(without, 1),
    ratio: round(withHistory / without),
    entries_expected: expected.size,
    entries_found: entriesFound,
    events_published: published,
    max_lag_ms: Math.round(maxLag),
  });
}
