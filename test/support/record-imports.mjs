// Records the URL of every module a process loads, one a line, in the file named by RP_RECORD_IMPORTS:
// `node --import ./test/support/record-imports.mjs …`. It registers itself as the module hooks (which
// run on a thread of their own), so that tests can say which packages a command loaded.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import process from 'node:process';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) register(import.meta.url);

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (process.env.RP_RECORD_IMPORTS) appendFileSync(process.env.RP_RECORD_IMPORTS, `${resolved.url}\n`);
  return resolved;
}
