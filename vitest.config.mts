// Tests by kind, one vitest project a folder of test/: `npx vitest run --project unit` runs one kind,
// `vitest run` all of them. Only the projects whose tests use DynamoDB Local (inject('ddbEndpoint'))
// name the global setup that starts it; the projects share the one instance it starts.
import { readdirSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const dynamoDbLocal = ['test/support/global-setup.ts'];

// A test file outside these folders would match no project and never run: CI refuses it; a local run
// says so once and goes on, so that one's own scratch files there do not stop it.
const KINDS = ['unit', 'store', 'http', 'infra', 'e2e'];
const stray = readdirSync(fileURLToPath(new URL('test', import.meta.url)), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.test.ts') && !KINDS.includes(file.split(sep)[0]))
  .map((file) => `test/${file}`);
if (stray.length > 0) {
  const message = `test files in no project (put them in test/${KINDS.join(', test/')}): ${stray.join(', ')}`;
  if (process.env.CI) throw new Error(message);
  // The config is loaded again for each project.
  const once = globalThis as { resourcePoolsStrayWarned?: boolean };
  if (!once.resourcePoolsStrayWarned) console.warn(`vitest.config.mts: ${message}`);
  once.resourcePoolsStrayWarned = true;
}

export default defineConfig({
  test: {
    // Inherited by every project (extends: true).
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      // Pure: no DynamoDB Local, no process, no network. Not isolated: its files share one worker's
      // modules (importing @fast-check/vitest alone takes ~2 s a file), which pure code allows.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      // The store (lib/store/) and the registration path on DynamoDB Local.
      { extends: true, test: { name: 'store', include: ['test/store/**/*.test.ts'], globalSetup: dynamoDbLocal } },
      // The HTTP API, config-sync and metrics handlers in-process, on DynamoDB Local (and a local S3).
      { extends: true, test: { name: 'http', include: ['test/http/**/*.test.ts'], globalSetup: dynamoDbLocal } },
      // The CDK app, synthesized and bundled. Not isolated: its files share the imported CDK and the
      // app synthesized once (test/support/infra-app.ts), as the one infra test file did before the split;
      // each file alone still synthesizes its own. Its tests only read what was synthesized.
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'], isolate: false } },
      // Whole processes: the local stack, the crash test, the CLI (its bin runs the compiled CLI,
      // built once for the run from the current sources).
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: [...dynamoDbLocal, 'test/support/build-cli.ts'] } },
    ],
  },
});
