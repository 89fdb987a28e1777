// The project's files stand alone: none sends a reader to a document a clone does not have, and every
// test file a document or a comment names exists (tests moved into test/<project>/ once already).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What is not the project's own text: dependencies, build output, data, the lock file. */
const SKIP = new Set(['node_modules', '.git', '.data', 'cdk.out', 'coverage', 'package-lock.json']);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIP.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return files(path);
    return /\.(ts|mts|js|md|toml|json)$/.test(entry.name) ? [relative(ROOT, path)] : [];
  });
}

const texts = files(ROOT).map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));
// Spelled in two parts so that this file does not name them itself.
const FORBIDDEN = ['..' + '/shared', 'SPEC' + '.md'];

describe('project files', () => {
  test('read', () => {
    expect(texts.map((t) => t.file)).toEqual(expect.arrayContaining(['README.md', 'docs/API.md', 'docs/CONFIG.md', 'docs/OPERATIONS.md']));
  });

  test('refer to no document outside the project', () => {
    const found = texts.flatMap(({ file, text }) => FORBIDDEN.filter((f) => text.includes(f)).map((f) => `${file}: ${f}`));
    expect(found).toEqual([]);
  });

  test('name only test files that exist', () => {
    const missing = texts.flatMap(({ file, text }) =>
      [...text.matchAll(/\btest\/[A-Za-z0-9_./-]+\.m?ts\b/g)].map((m) => m[0]).filter((path) => !existsSync(join(ROOT, path))).map((path) => `${file}: ${path}`),
    );
    expect(missing).toEqual([]);
  });
});
