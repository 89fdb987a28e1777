/**
 * Pool files: TOML text → typed pool definitions, with every problem reported at its place
 * (`pools.vpc-vni.ranges[1].end`). Pure: no I/O, no AWS. What a definition means relative to what is
 * already registered is decided later, by plan.ts.
 */
import { parse as parseToml, TomlError } from 'smol-toml';
// The namespace form lets esbuild drop the parts of zod this module does not use (its locales).
import * as z from 'zod';
import { MAX_LISTED_ISSUES } from './errors.js';
import { cmp, type FlaggedRun, normalize, overlapsSorted, type Run, runSize, subtract } from './runs.js';
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
  for (const issue of crossPoolOverlaps(specs)) errors.push(issue);
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

  // One by one: a spread of tens of thousands of issues can overflow the stack.
  for (const issue of overlapsWithin(type, given)) errors.push(issue);

  const excluded: SourcedRun[] = [];
  const definition = normalize(given);
  (excludes ?? []).forEach((entry, i) => {
    const at = `${path}.exclude[${i}]`;
    const run = parseExclude(type, entry, at, errors);
    if (!run) return;
    excluded.push({ ...run, autoAssign: false, path: at });
    if (!overlapsSorted(definition, run)) {
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

/**
 * The space a pool's values live in: pools of one family must not share values. All integer pools form
 * one family, as do all IPv4 pools and all IPv6 pools. This is the one place that says so, for the
 * check inside a file and the one against registered pools alike: a pool's scope, when pools get one,
 * goes into this key and nowhere else.
 */
export function familyOf(pool: { type: PoolType }): string {
  return pool.type;
}

/**
 * At most this many overlaps between pools are looked for and listed, then one issue says there are
 * more: a file of pools that all hold the same values would otherwise get an error for every pair of
 * pools (half a million for 1,000 pools), and an answer lists no more problems than this anyway.
 */
export const MAX_OVERLAP_ISSUES = MAX_LISTED_ISSUES;

/** The issue that closes a list of overlaps cut at MAX_OVERLAP_ISSUES, named like the answer's own cut. */
export function moreOverlaps(what: string): ConfigIssue {
  return {
    path: '(more)',
    message: `more than ${MAX_OVERLAP_ISSUES} overlaps ${what}; ${MAX_OVERLAP_ISSUES} are listed: fix them and check the file again for the rest`,
  };
}

/** One run in the sweep of a family: a run a pool holds (merged), or one part of its definition. */
interface SweepRun {
  start: bigint;
  end: bigint;
  pool: number;
  /** The part's index in `parts`; absent for what the pool holds. */
  part?: number;
}

/** One reportable overlap: part `part` of pool `later` shares `shared` with pool `earlier`. */
interface CrossOverlap {
  later: number;
  part: number;
  earlier: number;
  /** Start of the run of the earlier pool it was found with: the lowest one is reported. */
  heldStart: bigint;
  shared: Run;
}

/**
 * Pools of one family must not share values; the later pool in the file is the one reported, once for
 * each of its parts and each earlier pool it overlaps, with the first values they share. One sweep per
 * family over every run sorted by start, so the cost grows with the number of runs and of overlaps
 * found, never with pools × pools.
 */
function crossPoolOverlaps(specs: readonly PoolSpec[]): ConfigIssue[] {
  const families = new Map<string, SweepRun[]>();
  specs.forEach((spec, pool) => {
    const family = familyOf(spec);
    let runs = families.get(family);
    if (!runs) families.set(family, (runs = []));
    // What a pool holds is judged merged (touching parts are one run), what it is judged against part by part.
    for (const held of normalize(spec.parts)) runs.push({ start: held.start, end: held.end, pool });
    spec.parts.forEach((p, part) => {
      if (p.end > p.start) runs.push({ start: p.start, end: p.end, pool, part });
    });
  });

  const found = new Map<string, CrossOverlap>();
  const record = (held: SweepRun, claim: SweepRun) => {
    if (held.pool >= claim.pool || claim.part === undefined) return;
    const key = `${claim.pool}:${claim.part}:${held.pool}`;
    const seen = found.get(key);
    if (seen && seen.heldStart <= held.start) return;
    const shared = { start: held.start > claim.start ? held.start : claim.start, end: held.end < claim.end ? held.end : claim.end };
    found.set(key, { later: claim.pool, part: claim.part, earlier: held.pool, heldStart: held.start, shared });
  };

  let cut = false;
  sweep: for (const runs of families.values()) {
    runs.sort((a, b) => cmp(a.start, b.start));
    // The runs seen so far that reach past the current start: each one overlaps the current run.
    const heldActive: SweepRun[] = [];
    const claimActive: SweepRun[] = [];
    for (const run of runs) {
      const isClaim = run.part !== undefined;
      const others = isClaim ? heldActive : claimActive;
      let kept = 0;
      for (const other of others) {
        if (other.end <= run.start) continue;
        others[kept++] = other;
        if (isClaim) record(other, run);
        else record(run, other);
      }
      others.length = kept;
      (isClaim ? claimActive : heldActive).push(run);
      // Found in value order, each pair with the lowest run it shares first: cutting here keeps what is listed exact.
      if (found.size > MAX_OVERLAP_ISSUES) {
        cut = true;
        break sweep;
      }
    }
  }

  const overlaps = [...found.values()].sort((x, y) => x.later - y.later || x.earlier - y.earlier || x.part - y.part);
  const issues = overlaps.slice(0, MAX_OVERLAP_ISSUES).map(({ later, part, earlier, shared }): ConfigIssue => {
    const b = specs[later];
    return {
      path: b.parts[part].path,
      message: `overlaps pool '${specs[earlier].name}' (both hold ${describeRun(b.type, shared)}); pools of the same family must not share values`,
    };
  });
  if (cut) issues.push(moreOverlaps('between pools of this file'));
  return issues;
}

/** "10.0.0.1-10.0.0.9 (9 values)" or a single value; inclusive bounds read best in messages. */
export function describeRun(type: PoolType, run: Run): string {
  const n = runSize([run]);
  if (n === 1n) return showValue(type, run.start);
  return `${showValue(type, run.start)}-${showValue(type, run.end - 1n)} (${n} values)`;
}
