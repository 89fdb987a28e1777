/**
 * `npm start`: the local stack (README, Quickstart). Runs until Ctrl-C or SIGTERM, then stops every part
 * it started. npm runs this through `exec node --import tsx`, so this process is npm's own child and a
 * SIGTERM sent to npm alone reaches it; if whatever started it disappears without a signal, the stack
 * stops too, and Java, which runs under a guard watching this process, goes even when this process is
 * killed outright.
 *
 * Not through the `tsx` command: it runs the script in a child process and relays SIGINT and SIGTERM to
 * it, and SIGKILLs that child when it does not acknowledge a relayed signal within 30 ms. A Ctrl-C
 * reaches tsx twice (from the terminal and from npm), and a stack busy stopping on a loaded machine
 * missed that deadline now and then: it was killed in the middle of its stop.
 */
import type { ConfigResultJson } from '../lib/shapes.js';
import { settingsFromEnv, displayPath, CONFIG_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, STOP_DEADLINE_MS, type LocalStackSettings } from './settings.js';
import { type RunningStack, StartupRejected, startLocalStack, type StackOutput } from './stack.js';

const PARENT_CHECK_MS = 1000;

const out: StackOutput = {
  info: (line) => process.stdout.write(`${line}\n`),
  error: (line) => process.stderr.write(`${line}\n`),
};

// The SDK's notice about Node 20 says nothing about this stack; Java and npm are what it needs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let settings: LocalStackSettings;
try {
  settings = settingsFromEnv();
} catch (e) {
  out.error(`npm start: ${(e as Error).message}`);
  process.exit(2);
}

/**
 * Ctrl-C reaches this process twice: from the terminal (the whole process group) and again from npm,
 * which forwards SIGINT and SIGTERM to the script it runs. Only a signal well after the first one
 * means "stop waiting".
 */
const REPEAT_SIGNAL_MS = 1500;

let stack: RunningStack | undefined;
let stopRequested: string | undefined;
let stopRequestedAt = 0;
let stopping = false;

function requestStop(reason: string): void {
  if (stopRequested !== undefined) {
    // A second Ctrl-C: the user wants out now. Java still goes, with the guard.
    if (reason.startsWith('SIG') && Date.now() - stopRequestedAt > REPEAT_SIGNAL_MS) {
      out.error(`${reason} again: exiting without waiting`);
      process.exit(130);
    }
    return;
  }
  stopRequested = reason;
  stopRequestedAt = Date.now();
  // While starting, the start sequence stops what it started when it finishes.
  if (stack) void stop(0);
}

async function stop(exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    out.info(`\nstopping (${stopRequested ?? 'startup failed'})…`);
    setTimeout(() => {
      out.error(`stopping took longer than ${STOP_DEADLINE_MS / 1000}s; exiting anyway`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    await stack?.stop();
    out.info('stopped: nothing is listening any more');
    process.exit(exitCode);
  }
  return new Promise<never>(() => {});
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => requestStop(signal));

// Started by something that went away without signalling (a killed npm): we were reparented.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) requestStop('the process that started the stack is gone');
}, PARENT_CHECK_MS).unref();

try {
  stack = await startLocalStack(settings, out);
} catch (e) {
  if (e instanceof StartupRejected) {
    out.error(`POOLS_FILE ${e.message}:`);
    for (const issue of e.errors) out.error(`  ${issue.path}: ${issue.message}`);
    out.error(`Fix the file (check it with: npx resource-pool validate ${e.file}), or start with LISTEN_ONLY=true to skip startup registration.`);
  } else {
    out.error(`npm start: ${(e as Error).message}`);
  }
  process.exit(1);
}

if (stopRequested !== undefined) {
  await stop(0);
}
printBanner(settings, stack);

function printBanner(s: LocalStackSettings, st: RunningStack): void {
  const pool = st.poolNames.find((n) => n === 'vpc-vni') ?? st.poolNames[0];
  const cliEndpoint = s.port === 3000 ? '' : ` --endpoint ${st.apiUrl}`;
  const lines = [
    '',
    'resource-pools local stack is ready',
    `  API       ${st.apiUrl}  (OpenAPI: ${st.apiUrl}/v1/openapi.json)`,
    `  DynamoDB  ${st.dynamodbEndpoint}  table ${s.tableName}, ${
      st.embeddedDynamoDb ? (s.inMemory ? 'embedded, in memory (IN_MEMORY=true: nothing is kept)' : `embedded, data in ${s.dataDir}/dynamodb`) : 'from DYNAMODB_ENDPOINT'
    }`,
    `  S3        ${st.s3Endpoint}  bucket ${CONFIG_BUCKET}, path-style, access key ${S3_ACCESS_KEY} / secret ${S3_SECRET_KEY}; .toml uploads are applied`,
    `  history   read from the table's change stream, kept ${s.historyDays} days; ${s.eventsLog ? 'events are printed here (EVENTS_LOG=true)' : 'EVENTS_LOG=true prints each event'}`,
    `  pools     ${describeRegistration(s, st.registration)}`,
    '',
    'Try:',
    `  curl -s ${st.apiUrl}/v1/pools`,
    ...(st.poolNames.length === 0
      ? [`  npx resource-pool grow -f config/pools.toml${cliEndpoint}    # no pools yet: register some`]
      : [
          `  curl -s -X POST ${st.apiUrl}/v1/pools/${pool}/allocations -H 'content-type: application/json' -d '{"owner":"demo-1"}'`,
          `  npx resource-pool list${cliEndpoint}`,
          `  npx resource-pool allocate ${pool} --owner demo-2${cliEndpoint}`,
          `  npx resource-pool history ${pool} --owner demo-2${cliEndpoint}`,
        ]),
    `  AWS_ACCESS_KEY_ID=${S3_ACCESS_KEY} AWS_SECRET_ACCESS_KEY=${S3_SECRET_KEY} AWS_REQUEST_CHECKSUM_CALCULATION=when_required \\`,
    `    aws s3 cp site.toml s3://${CONFIG_BUCKET}/site.toml --endpoint-url ${st.s3Endpoint}`,
    '',
    `Stop with Ctrl-C (or: kill ${process.pid}).`,
  ];
  out.info(lines.join('\n'));
}

function describeRegistration(s: LocalStackSettings, r: ConfigResultJson | undefined): string {
  if (s.listenOnly || r === undefined) return 'LISTEN_ONLY=true: no startup registration';
  const counts = { created: 0, grown: 0, unchanged: 0 };
  for (const p of r.pools) counts[p.action]++;
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([action, n]) => `${n} ${action}`);
  const extra = [...r.ignored.map((i) => `ignored ${i.pool}: ${i.reason}`), ...r.warnings.map((w) => `warning: ${w}`)];
  return `${displayPath(s.poolsFile)} registered: ${parts.join(', ') || 'no pools'}${extra.map((x) => `\n            ${x}`).join('')}`;
}
