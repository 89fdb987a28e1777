/**
 * The crash proof in short form (bench/crash.ts; `npm run crash` runs it longer): the local stack is
 * SIGKILLed under concurrent HTTP load and restarted on the same data, three times, while DynamoDB
 * Local runs apart (a SIGKILLed DynamoDB Local can lose a transaction it had just acknowledged).
 */
import { expect, test } from 'vitest';
import { runCrash } from '../../bench/crash.js';

test('SIGKILL of the stack under load: nothing acknowledged is lost, nothing is held twice, nothing lacks its history entry', { timeout: 240_000 }, async () => {
  const report = await runCrash({ kills: 3, clients: 8, ownersPerClient: 6, msBetweenKills: 3000 });
  const { checkOutput, ...counts } = report;
  console.log(`crash: ${JSON.stringify(counts)}`);
  expect(report.kills).toBe(3);
  expect(report.acknowledged).toBeGreaterThan(50);
  expect(report.wrongAnswers).toEqual([]);
  expect(report.lost).toBe(0);
  expect(report.resurrected).toBe(0);
  expect(report.duplicated).toBe(0);
  expect(report.checkOk, checkOutput).toBe(true);
  // Every acknowledged allocation and release has its history entry after the restarts.
  expect(report.historyExpected).toBeGreaterThan(50);
  expect(report.historyMissing).toEqual([]);
  expect(report.historyFound).toBe(report.historyExpected);
});
