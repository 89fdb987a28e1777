/**
 * Pool files: TOML text → typed pool definitions, with every problem reported at its place
 * (`pools.vpc-vni.ranges[1].end`). Pure: no I/O, no AWS. What a definition means relative to what is
 * already registered is decided later, by plan.ts.
 */
import { parse as parseToml, TomlError } from 'smol-toml';
// The namespace form lets esbuild drop the parts of zod this module does not use (its locales).
import * as z from 'zod';
import { type FlaggedRun, normalize, overlaps, type Run, runSize, subtract } from './runs.js';
import {
  clip,
  describe,
  isPoolType,
  type PoolType,
  parseConfigValue,
  parsePrefix,
  type Prefix,
  prefixHostRange,
  prefixSpan,
  quote,
  showValue,
  valueExample,
} from './values.js';

export interface ConfigIssue {
  path: string;
  message: string;
}

/** A run of values with the place in the file that put it there. */
export interface SourcedRun extends FlaggedRun {
  path: string;
}

export interface PoolSpec {
  name: string;
  /** `pools.<name>` */
  path: string;
  type: PoolType;
  prefix?: Prefix;
  hasRanges: boolean;
  /** The values this definition holds (prefix and ranges, exclusions taken out), with their sources. */
  parts: SourcedRun[];
  /** What `exclude` names, as runs with their places. */
  excluded: SourcedRun[];
}

export interface PoolsFile {
  pools: PoolSpec[];
  warnings: string[];
}

/** The pools that parsed cleanly, and the errors of the rest: a file with errors is rejected whole. */
export interface ParseResult extends PoolsFile {
  errors: ConfigIssue[];
}

export const POOL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const POOL_NAME_RULE = '1-64 characters of A-Za-z0-9._-, starting with a letter or digit';

const POOL_KEYS = ['type', 'prefix', 'ranges', 'auto_assign', 'exclude'] as const;
const RANGE_KEYS = ['start', 'end', 'auto_assign'] as const;
const EXCLUDE_RANGE_KEYS = ['start', 'end'] as const;

const typeField = z.string({
  error: (iss) =>
    iss.input === undefined
      ? 'required: one of "ipv4", "ipv6", "integer"'
      : `must be one of "ipv4", "ipv6", "integer"; got ${describe(iss.input)}`,
});
const prefixField = z.string({ error: (iss) => `expected a CIDR string such as "10.180.62.0/26"; got ${describe(iss.input)}` });
const autoAssignField = z.boolean({ error: (iss) => `must be true or false; got ${describe(iss.input)}` });
const arrayField = (of: string) => z.array(z.unknown(), { error: (iss) => `expected an array of ${of}; got ${describe(iss.input)}` });

type Table = Record<string, unknown>;

/** Checks one field against a zod schema; a failure is recorded at its path and yields undefined. */
function field<T>(schema: z.ZodType<T>, value: unknown, path: string, errors: ConfigIssue[]): T | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  for (const iss of r.error.issues) errors.push({ path, message: iss.message });
  return undefined;
}

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Unknown keys are errors, so that a typo never passes silently. */
function unknownKeys(t: Table, accepted: readonly string[], path: string, errors: ConfigIssue[]): void {
  for (const k of Object.keys(t)) {
    if (!accepted.includes(k)) errors.push({ path: `${path}.${clip(k)}`, message: `unknown key '${clip(k)}'; accepted keys: ${accepted.join(', ')}` });
  }
}

/** Parses and validates a pool file on its own. */
export function parsePoolsFile(text: string): ParseResult {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text, { integersAsBigInt: 'asNeeded' }) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const summary = e.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
      return { pools: [], errors: [{ path: `line ${e.line}, column ${e.column}`, message: `invalid TOML: ${summary}` }], warnings: [] };
    }
    throw e;
  }

  const warnings: string[] = [];
  for (const key of Object.keys(doc)) {
    if (key === 'pools') continue;
    const v = doc[key];
    const isTable = typeof v === 'object' && v !== null && !Array.isArray(v);
    warnings.push(isTable ? `top-level table '${clip(key)}' ignored` : `top-level key '${clip(key)}' ignored`);
  }

  const pools = doc.pools;
  const example = 'declare at least one pool, e.g. [pools.vpc-vni] with type = "integer" and ranges';
  const rejected = (message: string): ParseResult => ({ pools: [], errors: [{ path: 'pools', message }], warnings });
  if (pools === undefined) return rejected(`no [pools.<name>] table; ${example}`);
  if (!isTable(pools)) return rejected(`must be a table of pools; got ${describe(pools)}; ${example}`);
  const names = Object.keys(pools);
  if (names.length === 0) return rejected(`holds no pool; ${example}`);

  const errors: ConfigIssue[] = [];
  const specs: PoolSpec[] = [];
  for (const name of names) {
    const path = `pools.${clip(name)}`;
    if (!POOL_NAME_PATTERN.test(name)) {
      errors.push({ path, message: `invalid pool name ${quote(name)}: use ${POOL_NAME_RULE}` });
      continue;
    }
    const raw = pools[name];
    if (!isTable(raw)) {
      errors.push({ path, message: `must be a table with keys ${POOL_KEYS.join(', ')}; got ${describe(raw)}` });
      continue;
    }
    const spec = buildPool(name, path, raw, errors, warnings);
    if (spec) specs.push(spec);
  }
  errors.push(...crossPoolOverlaps(specs));
  return { pools: specs, errors, warnings };
}

function buildPool(name: string, path: string, raw: Table, errors: ConfigIssue[], warnings: string[]): PoolSpec | undefined {
  const before = errors.length;
  unknownKeys(raw, POOL_KEYS, path, errors);
  const typeText = field(typeField, raw.type, `${path}.type`, errors);
  const poolAuto = raw.auto_assign === undefined ? true : field(autoAssignField, raw.auto_assign, `${path}.auto_assign`, errors);
  const prefixText = raw.prefix === undefined ? undefined : field(prefixField, raw.prefix, `${path}.prefix`, errors);
  const ranges = raw.ranges === undefined ? undefined : field(arrayField('{ start, end } tables'), raw.ranges, `${path}.ranges`, errors);
  const excludes = raw.exclude === undefined ? undefined : field(arrayField('values, CIDRs or { start, end } tables'), raw.exclude, `${path}.exclude`, errors);
  if (typeText === undefined) return undefined;
  if (!isPoolType(typeText)) {
    errors.push({ path: `${path}.type`, message: `must be one of "ipv4", "ipv6", "integer"; got ${describe(typeText)}` });
    return undefined;
  }
  const type = typeText;
  const given: SourcedRun[] = [];

  let prefix: Prefix | undefined;
  if (prefixText !== undefined) {
    if (type === 'integer') {
      errors.push({ path: `${path}.prefix`, message: 'integer pools take no prefix; use ranges = [{ start = 2024500, end = 2025500 }]' });
    } else {
      const p = parsePrefix(type, prefixText);
      if (!p.ok) errors.push({ path: `${path}.prefix`, message: p.message });
      else {
        prefix = p.value;
        given.push({ ...prefixHostRange(type, prefix), autoAssign: poolAuto ?? true, path: `${path}.prefix` });
      }
    }
  }

  (ranges ?? []).forEach((r, i) => {
    const at = `${path}.ranges[${i}]`;
    if (!isTable(r)) {
      errors.push({ path: at, message: `expected a table { start, end, auto_assign? }; got ${describe(r)}` });
      return;
    }
    unknownKeys(r, RANGE_KEYS, at, errors);
    const rangeAuto = r.auto_assign === undefined ? poolAuto : field(autoAssignField, r.auto_assign, `${at}.auto_assign`, errors);
    const run = parseSpan(type, r, at, errors);
    if (run) given.push({ ...run, autoAssign: rangeAuto ?? true, path: at });
  });

  errors.push(...overlapsWithin(type, given));

  const excluded: SourcedRun[] = [];
  (excludes ?? []).forEach((entry, i) => {
    const at = `${path}.exclude[${i}]`;
    const run = parseExclude(type, entry, at, errors);
    if (!run) return;
    excluded.push({ ...run, autoAssign: false, path: at });
    if (!overlaps([run], given)) {
      warnings.push(`${at}: ${describeRun(type, run)} is outside the definition of pool '${name}'; ignored`);
    }
  });

  if (errors.length > before) return undefined;
  return {
    name,
    path,
    type,
    prefix,
    hasRanges: ranges !== undefined,
    parts: subtract(given, excluded),
    excluded,
  };
}

function parseSpan(type: PoolType, r: Table, at: string, errors: ConfigIssue[]): Run | undefined {
  if (r.start === undefined) errors.push({ path: `${at}.start`, message: `required: the first value, ${valueExample(type)}` });
  if (r.end === undefined) errors.push({ path: `${at}.end`, message: `required: one past the last value (end is exclusive), ${valueExample(type)}` });
  if (r.start === undefined || r.end === undefined) return undefined;
  const start = parseConfigValue(type, r.start);
  const end = parseConfigValue(type, r.end);
  if (!start.ok) errors.push({ path: `${at}.start`, message: start.message });
  if (!end.ok) errors.push({ path: `${at}.end`, message: end.message });
  if (!start.ok || !end.ok) return undefined;
  if (end.value <= start.value) {
    const hint =
      type === 'integer'
        ? ''
        : '; to include the last address of the space, use a prefix';
    errors.push({
      path: `${at}.end`,
      message: `end ${showValue(type, end.value)} must be greater than start ${showValue(type, start.value)} (end is exclusive)${hint}`,
    });
    return undefined;
  }
  return { start: start.value, end: end.value };
}

function parseExclude(type: PoolType, entry: unknown, at: string, errors: ConfigIssue[]): Run | undefined {
  if (isTable(entry)) {
    unknownKeys(entry, EXCLUDE_RANGE_KEYS, at, errors);
    return parseSpan(type, entry, at, errors);
  }
  if (typeof entry !== 'string' && typeof entry !== 'number' && typeof entry !== 'bigint') {
    errors.push({ path: at, message: `an exclude entry is a value, ${type === 'integer' ? '' : 'a CIDR, '}or a table { start, end }; got ${describe(entry)}` });
    return undefined;
  }
  if (typeof entry === 'string' && entry.includes('/')) {
    if (type === 'integer') {
      errors.push({ path: at, message: `integer pools take values or { start, end } ranges in exclude, not CIDRs; got ${quote(entry)}` });
      return undefined;
    }
    const p = parsePrefix(type, entry);
    if (!p.ok) {
      errors.push({ path: at, message: p.message });
      return undefined;
    }
    return prefixSpan(type, p.value);
  }
  const v = parseConfigValue(type, entry);
  if (!v.ok) {
    errors.push({ path: at, message: `${v.message}; exclude also takes ${type === 'integer' ? '' : 'CIDRs and '}{ start, end } ranges` });
    return undefined;
  }
  return { start: v.value, end: v.value + 1n };
}

function overlapsWithin(type: PoolType, given: readonly SourcedRun[]): ConfigIssue[] {
  const sorted = [...given].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const issues: ConfigIssue[] = [];
  let widest: SourcedRun | undefined;
  for (const run of sorted) {
    if (widest && run.start < widest.end) {
      const [first, second] = [widest, run].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
      const shared = { start: run.start, end: run.end < widest.end ? run.end : widest.end };
      issues.push({
        path: second.path,
        message: `overlaps ${first.path.slice(first.path.lastIndexOf('.') + 1)} (both hold ${describeRun(type, shared)}); ranges and prefix of one pool must not overlap`,
      });
    }
    if (!widest || run.end > widest.end) widest = run;
  }
  return issues;
}

/** Pools of one family must not share values; the later pool in the file is the one reported. */
function crossPoolOverlaps(specs: readonly PoolSpec[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  specs.forEach((b, j) => {
    for (const a of specs.slice(0, j)) {
      if (a.type !== b.type) continue;
      for (const part of b.parts) {
        const hit = normalize(a.parts).find((r) => r.start < part.end && part.start < r.end);
        if (hit) {
          const shared = { start: hit.start > part.start ? hit.start : part.start, end: hit.end < part.end ? hit.end : part.end };
          issues.push({ path: part.path, message: `overlaps pool '${a.name}' (both hold ${describeRun(b.type, shared)}); pools of the same family must not share values` });
        }
      }
    }
  });
  return issues;
}

/** "10.0.0.1-10.0.0.9 (9 values)" or a single value; inclusive bounds read best in messages. */
export function describeRun(type: PoolType, run: Run): string {
  const n = runSize([run]);
  if (n === 1n) return showValue(type, run.start);
  return `${showValue(type, run.start)}-${showValue(type, run.end - 1n)} (${n} values)`;
}
