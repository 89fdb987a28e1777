/**
 * Where in a pool file an error's path points, for people reading `validate`: the line of the key
 * (`pools.x.type`) or of the pool's table (`pools.x`), found in the text itself. Paths are what every
 * error carries (they are the contract); the line is a reading aid, so a path it cannot place (a key
 * inside an inline table written over several lines) simply gets none. Pure: no I/O.
 */

/** `pools.a.ranges[0].end` → ['pools', 'a', 'ranges']: the table and the key whose line is shown. */
function parts(path: string): string[] {
  return path.split('.').map((p) => p.replace(/\[\d+\]$/, ''));
}

const unquote = (name: string) => name.trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');

/** The 1-based line of the place `path` names in `text`, or undefined. */
export function lineOf(text: string, path: string): number | undefined {
  const [top, pool, key] = parts(path);
  if (top !== 'pools' || pool === undefined) return undefined;
  const lines = text.split(/\r?\n/);
  let inPool = false;
  let tableLine: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      const names = header[1].split('.').map(unquote);
      inPool = names.length === 2 && names[0] === 'pools' && names[1] === pool;
      if (inPool) tableLine = i + 1;
      continue;
    }
    if (inPool && key !== undefined && new RegExp(`^("?)${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\1\\s*=`).test(line)) return i + 1;
  }
  return tableLine;
}
