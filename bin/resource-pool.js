#!/usr/bin/env node
// The `resource-pool` bin: the CLI compiled to dist/cli by `npm run build:cli`, which `npm ci` and
// `npm install` run (the `prepare` script). Plain JavaScript at run time: transpiling TypeScript at
// every call cost seconds.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

// The SDK warns on Node 20 that its releases after January 2027 will need Node 22. This project
// pins its own SDK versions and runs on Node 20 (README, Set-up), so the notice is not the user's to
// act on here; set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(main)) {
  await import(main.href);
} else {
  process.stderr.write('resource-pool: the CLI is not built (dist/cli/main.js is missing): run `npm run build:cli` in the resource-pools checkout (`npm ci` does it)\n');
  process.exitCode = 2;
}
