/**
 * The path rule, in one place for both adapters (the Lambda behind API Gateway and the local Node
 * server): a request path is routed only if each of its segments names exactly one path segment.
 * A segment that is empty, `.` or `..` (plainly or percent-encoded), or whose text contains one of
 * `/ ? # % \` once decoded, is refused with 400 INVALID_ARGUMENT before any routing.
 *
 * Why: the adapters build a WHATWG URL from the path, and URL parsing resolves dot segments (`%2e`
 * included) and reads `\` as `/`, so `/v1/pools/x/../../config` would run as `/v1/config`. Refusing
 * such paths makes the path an IAM policy is matched against the path that runs. No pool name, value
 * or owner can contain one of those characters, so nothing the API serves is refused.
 *
 * Two forms of path come in: `raw`, as written on the wire (the local server's request target; each
 * segment is percent-decoded once here), and `decoded`, as API Gateway HTTP APIs hand it to the
 * Lambda (already percent-decoded once, so a client's `%2F` arrives as `/` and cannot be told apart).
 *
 * The root `/` is accepted (and answered 404 by the router); any other path ending in `/` has an empty
 * last segment and is refused like `//` in the middle.
 *
 * Pure: no I/O, no framework.
 */
import { PoolError } from '../../lib/errors.js';
import { quote } from '../../lib/values.js';

export type PathForm = 'raw' | 'decoded';

export const PATH_RULE =
  'path segments must not be empty, "." or ".." (plainly or percent-encoded), nor contain / ? # % or \\ once decoded; the API does not resolve dot segments';

/** Characters no segment may hold once decoded: URL syntax, and `\`, which URL parsing reads as `/`. */
const DELIMITER = /[/?#%\\]/;

/** A segment as the message shows it: quoted, and clipped so that a long path does not come back whole. */
const quoted = (segment: string) => quote(segment, 48);

function refused(position: number, what: string): PoolError {
  return new PoolError('INVALID_ARGUMENT', `path: segment ${position} ${what}; ${PATH_RULE}`);
}

/**
 * Undefined when the path may be routed, else the INVALID_ARGUMENT to answer. Positions count the
 * segments after the leading slash from 1 (`/v1/pools/x/..`: segment 4 is `..`).
 */
export function pathProblem(path: string, form: PathForm): PoolError | undefined {
  if (path === '' || path === '/') return undefined;
  if (!path.startsWith('/')) return new PoolError('INVALID_ARGUMENT', `path: ${quoted(path)} does not start with "/"`);
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const written = segments[i];
    const position = i + 1;
    let text = written;
    if (form === 'raw') {
      try {
        text = decodeURIComponent(written);
      } catch {
        return refused(position, `(${quoted(written)}) is not valid percent-encoding of UTF-8 text`);
      }
    }
    if (text === '') {
      return refused(position, i === segments.length - 1 ? 'is empty (the path ends in "/"; leave the slash out)' : 'is empty ("//" in the path)');
    }
    const shown = form === 'raw' && written !== text ? `(${quoted(written)}, decoded ${quoted(text)})` : `(${quoted(written)})`;
    if (text === '.' || text === '..') return refused(position, `${shown} is a dot segment`);
    const delimiter = DELIMITER.exec(text);
    if (delimiter) return refused(position, `${shown} contains ${JSON.stringify(delimiter[0])}`);
  }
  return undefined;
}

/**
 * The path of an HTTP request target as it came off the wire: origin form (`/v1/pools?limit=5`) up to
 * its query, or the path of an absolute form (`http://host/v1/pools`). Any other form is returned
 * whole, and pathProblem refuses it.
 */
export function requestTargetPath(target: string): string {
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  const rest = absolute ? target.slice(absolute[0].length) : target;
  const query = rest.indexOf('?');
  const path = query < 0 ? rest : rest.slice(0, query);
  return absolute && path === '' ? '/' : path;
}
