/**
 * `resource-pool` as users run it: the package's bin (package.json "bin"), executed through its
 * shebang as npx does, running the compiled CLI that test/support/build-cli.ts built for this run.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { bin: Record<string, string> };
/** The absolute path of the `resource-pool` bin. */
export const BIN = fileURLToPath(new URL(pkg.bin['resource-pool'], root));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the bin with `args`; `env` is added to the test's environment (an empty value unsets nothing, it sets ''). */
export function runCli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Run> {
  const [file, argv] = nodeArgs.length === 0 ? [BIN, args] : [process.execPath, [...nodeArgs, BIN, ...args]];
  return new Promise((resolve) => {
    execFile(
      file,
      argv,
      { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
