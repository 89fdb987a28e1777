/** Lines of pool-file errors (lib/config-lines.ts), as `validate` prints them next to each path. */
import { describe, expect, test } from 'vitest';
import { lineOf } from '../../lib/config-lines.js';

const FILE = `# site pools
[pools.lo-ip]
type = "ipv4"
prefix = "10.180.62.0/26"

[pools."odd.name"]
type = "integer"
ranges = [{ start = 5, end = 1 }]
`;

describe('lineOf', () => {
  test.each([
    ['pools.lo-ip.prefix', 4],
    ['pools.lo-ip.type', 3],
    ['pools.lo-ip', 2],
    ['pools.lo-ip.exclude', 2],
    ['pools.odd.name.ranges[0].end', undefined],
    ['pools', undefined],
    ['line 1, column 9', undefined],
  ])('%s → line %s', (path, line) => {
    expect(lineOf(FILE, path)).toBe(line);
  });

  test('a quoted pool name and a key of a range', () => {
    const file = '[pools."a.b"]\ntype = "integer"\nranges = [{ start = 5, end = 1 }]\n';
    expect(lineOf(file, 'pools.a.b.type')).toBeUndefined();
    expect(lineOf('[pools.v]\ntype = "integer"\nranges = [{ start = 5, end = 1 }]\n', 'pools.v.ranges[0].end')).toBe(3);
  });
});
