/**
 * The e2e project's build of the CLI: the tests run the bin users run, which runs the compiled
 * dist/cli, so it is built once from the current sources before any test file starts (a build left
 * from an older checkout would test old code).
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build:cli'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
