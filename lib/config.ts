/**
 * Pool files: TOML text → typed pool definitions, with every problem reported at its place
 * (`pools.vpc-vni.ranges[1].end`). Pure: no I/O, no AWS. What a definition means relative to what is
 * already registered is decided later, by plan.ts.
 */
import { parse as parseToml, TomlError } from 'smol-toml';
// The namespace form lets esbuild drop the parts of zod this module does not use (its locales).
import * as z from 'zod';
import { MAX_LISTED_ISSUES } from './errors.js';
import { POOL_NAME_PATTERN, POOL_NAME_RULE } from './names.js';
import { type IntegerKind, isIntegerKind, KIND_BOUNDS, kindRange, KINDS_TEXT } from './kinds.js';
import { type AllocationOrder, isAllocationOrder, ORDERS_TEXT } from './orders.js';
import { cmp, type FlaggedRun, normalize, overlapsSorted, type Run, runSize, subtract } from './runs.js';
import {
  addressBits,
  addressRun,
  type AddressFamily,
  clip,
  describe,
  familyOfType,
  isPoolType,
  isPrefixType,
  POOL_TYPES,
  type PoolType,
  parseAddress,
  parseConfigValue,
  parsePrefix,
  type Prefix,
  prefixHostRange,
  prefixShift,
  prefixSpan,
  quote,
  showValue,
  type ValueSpace,
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
  /** Prefix pools: the length of every value, as the file gives it (or, growing a pool, as registered). */
  delegate?: number;
  /** Prefix pools: whether the file itself gives delegate_prefix_len. */
  givesDelegate?: boolean;
  /** Integer pools: what the numbers are, as the file gives it (or, growing a pool, as registered). */
  kind?: IntegerKind;
  /** Integer pools: whether the file itself gives kind. */
  givesKind?: boolean;
  /** The namespace the pool's values are unique in, as the file gives it (or, growing a pool, as registered); absent for the family's default. */
  scope?: string;
  /** Whether the file itself gives scope. */
  givesScope?: boolean;
  /** Which free value an automatic allocation takes, when the file gives it: left out, a new pool allocates at random and a registered one keeps its order. */
  order?: AllocationOrder;
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

// In a module of their own, so that the store can check a name without loading the TOML parser.
export { POOL_NAME_PATTERN, POOL_NAME_RULE };

const POOL_KEYS = ['type', 'kind', 'prefix', 'delegate_prefix_len', 'ranges', 'auto_assign', 'exclude', 'scope', 'allocation_order'] as const;
const TYPES_TEXT = POOL_TYPES.map((t) => `"${t}"`).join(', ');
const RANGE_KEYS = ['start', 'end', 'auto_assign'] as const;
const EXCLUDE_RANGE_KEYS = ['start', 'end'] as const;

const typeField = z.string({
  error: (iss) => (iss.input === undefined ? `required: one of ${TYPES_TEXT}` : `must be one of ${TYPES_TEXT}; got ${describe(iss.input)}`),
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

/**
 * What parsing needs of the registered pools: a prefix pool's delegate length, an integer pool's kind
 * and a pool's scope, which a growing file may leave out (the kind's bounds still hold for what it
 * adds, and its values are judged against the other pools of the registered scope).
 */
export interface Registered {
  delegateOf(pool: string): number | undefined;
  kindOf(pool: string): IntegerKind | undefined;
  scopeOf(pool: string): string | undefined;
}

const ALONE: Registered = { delegateOf: () => undefined, kindOf: () => undefined, scopeOf: () => undefined };

/** Parses and validates a pool file, on its own (`validate`) or against what is registered (planning). */
export function parsePoolsFile(text: string, registered: Registered = ALONE): ParseResult {
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
    const spec = buildPool(name, path, raw, errors, warnings, registered.delegateOf(name), registered.kindOf(name), registered.scopeOf(name));
    if (spec) specs.push(spec);
  }
  for (const issue of crossPoolOverlaps(specs)) errors.push(issue);
  return { pools: specs, errors, warnings };
}

function buildPool(
  name: string,
  path: string,
  raw: Table,
  errors: ConfigIssue[],
  warnings: string[],
  registeredDelegate: number | undefined,
  registeredKind: IntegerKind | undefined,
  registeredScope: string | undefined,
): PoolSpec | undefined {
  const before = errors.length;
  unknownKeys(raw, POOL_KEYS, path, errors);
  const typeText = field(typeField, raw.type, `${path}.type`, errors);
  const poolAuto = raw.auto_assign === undefined ? true : field(autoAssignField, raw.auto_assign, `${path}.auto_assign`, errors);
  const prefixText = raw.prefix === undefined ? undefined : field(prefixField, raw.prefix, `${path}.prefix`, errors);
  const ranges = raw.ranges === undefined ? undefined : field(arrayField('{ start, end } tables'), raw.ranges, `${path}.ranges`, errors);
  const excludes = raw.exclude === undefined ? undefined : field(arrayField('values, CIDRs or { start, end } tables'), raw.exclude, `${path}.exclude`, errors);
  if (typeText === undefined) return undefined;
  if (!isPoolType(typeText)) {
    errors.push({ path: `${path}.type`, message: `must be one of ${TYPES_TEXT}; got ${describe(typeText)}` });
    return undefined;
  }
  const type = typeText;
  const given: SourcedRun[] = [];

  const delegate = delegateField(type, raw.delegate_prefix_len, registeredDelegate, path, errors);
  const givenKind = kindField(type, raw.kind, path, errors);
  // Whether the file's kind may differ from the registered one is for planning to say; the bounds of
  // the registered kind hold for what a file adds even when it leaves kind out.
  const kind = givenKind ?? registeredKind;
  const givenScope = scopeField(raw.scope, path, errors);
  const order = orderField(raw.allocation_order, path, errors);
  // A prefix pool whose delegate length is not known cannot have its values read.
  if (isPrefixType(type) && delegate === undefined) return undefined;
  const space: ValueSpace = { type, delegate };

  let prefix: Prefix | undefined;
  if (prefixText !== undefined) {
    const family = familyOfType(type);
    if (!family) {
      errors.push({ path: `${path}.prefix`, message: 'integer pools take no prefix; use ranges = [{ start = 2024500, end = 2025500 }]' });
    } else {
      const p = parsePrefix(family, prefixText);
      if (!p.ok) errors.push({ path: `${path}.prefix`, message: p.message });
      else if (isPrefixType(type) && p.value.length > (delegate as number)) {
        errors.push({
          path: `${path}.delegate_prefix_len`,
          message: `${delegate} is shorter than the pool's prefix ${p.value.cidr}: every value is a prefix inside it; use ${p.value.length} to ${addressBits(family)}`,
        });
      } else {
        prefix = p.value;
        const values = isPrefixType(type) ? prefixValues(space, prefix) : prefixHostRange(family, prefix);
        given.push({ ...values, autoAssign: poolAuto ?? true, path: `${path}.prefix` });
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
    const run = parseSpan(space, r, at, errors);
    if (run && kind !== undefined && !withinKind(kind, run, at, errors)) return;
    if (run) given.push({ ...run, autoAssign: rangeAuto ?? true, path: at });
  });

  // One by one: a spread of tens of thousands of issues can overflow the stack.
  for (const issue of overlapsWithin(space, given)) errors.push(issue);

  const excluded: SourcedRun[] = [];
  const definition = normalize(given);
  (excludes ?? []).forEach((entry, i) => {
    const at = `${path}.exclude[${i}]`;
    const run = parseExclude(space, entry, at, errors);
    if (!run) return;
    excluded.push({ ...run, autoAssign: false, path: at });
    if (!overlapsSorted(definition, run)) {
      warnings.push(`${at}: ${describeRun(space, run)} is outside the definition of pool '${name}'; ignored`);
    }
  });

  if (errors.length > before) return undefined;
  return {
    name,
    path,
    type,
    delegate,
    givesDelegate: raw.delegate_prefix_len !== undefined,
    kind: type === 'integer' ? kind : undefined,
    givesKind: raw.kind !== undefined,
    // Whether the file's scope may differ from the registered one is for planning to say.
    scope: givenScope ?? registeredScope,
    givesScope: raw.scope !== undefined,
    order,
    prefix,
    hasRanges: ranges !== undefined,
    parts: subtract(given, excluded),
    excluded,
  };
}

/**
 * A prefix pool's delegate_prefix_len: required when the pool is created (the file alone must say it),
 * a file growing the pool may leave it out, and no other type takes it. Whether a given length is the
 * registered one is for planning to say.
 */
function delegateField(type: PoolType, raw: unknown, registered: number | undefined, path: string, errors: ConfigIssue[]): number | undefined {
  const at = `${path}.delegate_prefix_len`;
  if (!isPrefixType(type)) {
    if (raw !== undefined) errors.push({ path: at, message: `only ipv4-prefix and ipv6-prefix pools take a delegate_prefix_len; a ${type} pool's values are single ${type === 'integer' ? 'integers' : 'addresses'}` });
    return undefined;
  }
  const bits = addressBits(type);
  if (raw === undefined) {
    if (registered !== undefined) return registered;
    errors.push({ path: at, message: `required for a new ${type} pool: the length of every prefix it hands out, a whole number 1-${bits} (e.g. ${bits === 32 ? 26 : 64})` });
    return undefined;
  }
  const n = typeof raw === 'bigint' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > bits) {
    errors.push({ path: at, message: `must be a whole number 1-${bits} (the length of every prefix the pool hands out); got ${describe(raw)}` });
    return undefined;
  }
  return n;
}

/** An integer pool's kind, when the file gives one: one of the kinds, and only on integer pools. */
function kindField(type: PoolType, raw: unknown, path: string, errors: ConfigIssue[]): IntegerKind | undefined {
  if (raw === undefined) return undefined;
  const at = `${path}.kind`;
  if (type !== 'integer') {
    errors.push({ path: at, message: `only integer pools take a kind; a ${type} pool's values are ${isPrefixType(type) ? 'prefixes' : 'addresses'}: leave kind out` });
    return undefined;
  }
  if (!isIntegerKind(raw)) {
    errors.push({ path: at, message: `must be one of ${KINDS_TEXT}, or left out for plain integers; got ${describe(raw)}` });
    return undefined;
  }
  return raw;
}

/** A pool's scope, when the file gives one: a name written like a pool name. */
function scopeField(raw: unknown, path: string, errors: ConfigIssue[]): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !POOL_NAME_PATTERN.test(raw)) {
    errors.push({
      path: `${path}.scope`,
      message: `must be a scope name, ${POOL_NAME_RULE} (e.g. "fabric-a"), or left out for the family's default scope; got ${describe(raw)}`,
    });
    return undefined;
  }
  return raw;
}

/** A pool's allocation order, when the file gives one. */
function orderField(raw: unknown, path: string, errors: ConfigIssue[]): AllocationOrder | undefined {
  if (raw === undefined) return undefined;
  if (!isAllocationOrder(raw)) {
    errors.push({ path: `${path}.allocation_order`, message: `must be ${ORDERS_TEXT} (the lowest free value first), or left out; got ${describe(raw)}` });
    return undefined;
  }
  return raw;
}

/** A range of a pool with a kind lies inside the kind's bounds; otherwise an error names the bound it crosses. */
function withinKind(kind: IntegerKind, run: Run, at: string, errors: ConfigIssue[]): boolean {
  const b = KIND_BOUNDS[kind];
  const holds = `kind "${kind}" (${b.what}) takes values ${kindRange(kind)}`;
  let ok = true;
  if (run.start < b.min) {
    errors.push({ path: `${at}.start`, message: `${run.start} is below the lowest ${kind} value ${b.min}: ${holds}` });
    ok = false;
  }
  if (run.end > b.max + 1n) {
    errors.push({
      path: `${at}.end`,
      message: `${run.end.toLocaleString('en-US')} reaches past the highest ${kind} value ${b.max.toLocaleString('en-US')}: ${holds}, so end (exclusive) is at most ${(b.max + 1n).toLocaleString('en-US')}`,
    });
    ok = false;
  }
  return ok;
}

/** The values of a prefix pool's `prefix`: every prefix of the delegate length inside it, as prefix numbers. */
function prefixValues(space: ValueSpace, prefix: Prefix): Run {
  const family = familyOfType(space.type) as AddressFamily;
  const shift = prefixShift(space);
  const span = prefixSpan(family, prefix);
  return { start: span.start >> shift, end: span.end >> shift };
}

function parseSpan(type: ValueSpace, r: Table, at: string, errors: ConfigIssue[]): Run | undefined {
  if (r.start === undefined) errors.push({ path: `${at}.start`, message: `required: the first value, ${valueExample(type)}` });
  if (r.end === undefined) errors.push({ path: `${at}.end`, message: `required: one past the last value (end is exclusive), ${valueExample(type)}` });
  if (r.start === undefined || r.end === undefined) return undefined;
  const start = parseConfigValue(type, r.start);
  const end = parseConfigValue(type, r.end);
  if (!start.ok) errors.push({ path: `${at}.start`, message: start.message });
  if (!end.ok) errors.push({ path: `${at}.end`, message: end.message });
  if (!start.ok || !end.ok) return undefined;
  if (end.value <= start.value) {
    const hint = type.type === 'integer' ? '' : '; to include the last values of the space, use a prefix';
    errors.push({
      path: `${at}.end`,
      message: `end ${showValue(type, end.value)} must be greater than start ${showValue(type, start.value)} (end is exclusive)${hint}`,
    });
    return undefined;
  }
  return { start: start.value, end: end.value };
}

function parseExclude(space: ValueSpace, entry: unknown, at: string, errors: ConfigIssue[]): Run | undefined {
  const type = space.type;
  const family = familyOfType(type);
  if (isTable(entry)) {
    unknownKeys(entry, EXCLUDE_RANGE_KEYS, at, errors);
    return parseSpan(space, entry, at, errors);
  }
  if (typeof entry !== 'string' && typeof entry !== 'number' && typeof entry !== 'bigint') {
    errors.push({ path: at, message: `an exclude entry is a value, ${family ? 'a CIDR, ' : ''}or a table { start, end }; got ${describe(entry)}` });
    return undefined;
  }
  if (typeof entry === 'string' && (entry.includes('/') || (isPrefixType(type) && family !== undefined))) {
    if (!family) {
      errors.push({ path: at, message: `integer pools take values or { start, end } ranges in exclude, not CIDRs; got ${quote(entry)}` });
      return undefined;
    }
    // A prefix pool excludes every value that overlaps the excluded prefix or address, whatever its length.
    const p = entry.includes('/') ? parsePrefix(family, entry) : parseAddress(family, entry);
    if (!p.ok) {
      errors.push({ path: at, message: p.message });
      return undefined;
    }
    const span = typeof p.value === 'bigint' ? { start: p.value, end: p.value + 1n } : prefixSpan(family, p.value);
    if (!isPrefixType(type)) return span;
    const shift = prefixShift(space);
    return { start: span.start >> shift, end: (span.end + (1n << shift) - 1n) >> shift };
  }
  const v = parseConfigValue(space, entry);
  if (!v.ok) {
    errors.push({ path: at, message: `${v.message}; exclude also takes ${family ? 'CIDRs and ' : ''}{ start, end } ranges` });
    return undefined;
  }
  return { start: v.value, end: v.value + 1n };
}

function overlapsWithin(type: ValueSpace, given: readonly SourcedRun[]): ConfigIssue[] {
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
 * The space a pool's values live in: pools of one family and scope must not share values. All integer
 * pools form one family, as do all IPv4 pools and all IPv6 pools; a scope is a namespace inside its
 * family, and a pool without one is in the family's default scope. This is the one place that says so,
 * for the check inside a file and the one against registered pools alike. Scope names hold no `/`, so
 * no scoped key is another family's default.
 */
export function familyOf(pool: { type: PoolType; scope?: string }): string {
  const family = familyOfType(pool.type) ?? 'integer';
  return pool.scope === undefined ? family : `${family}/${pool.scope}`;
}

/** Why two pools may not share values, as overlap messages end: the scope is named when there is one. */
export function sharingRule(pool: { scope?: string }): string {
  return pool.scope === undefined ? 'pools of the same family must not share values' : `pools of the same family and scope ('${pool.scope}') must not share values`;
}

/** The family's own type, in whose values overlaps between its pools are judged and shown (addresses for prefix pools). */
function familyType(type: PoolType): PoolType {
  return familyOfType(type) ?? 'integer';
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
    // Judged on the addresses values cover, so that a prefix pool and an address pool of one family meet.
    const covers = (r: Run) => addressRun(spec, r);
    // What a pool holds is judged merged (touching parts are one run), what it is judged against part by part.
    for (const held of normalize(spec.parts)) runs.push({ ...covers(held), pool });
    spec.parts.forEach((p, part) => {
      if (p.end > p.start) runs.push({ ...covers(p), pool, part });
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
      message: `overlaps pool '${specs[earlier].name}' (both hold ${describeRun(familyType(b.type), shared)}); ${sharingRule(b)}`,
    };
  });
  if (cut) issues.push(moreOverlaps('between pools of this file'));
  return issues;
}

/** "10.0.0.1-10.0.0.9 (9 values)" or a single value; inclusive bounds read best in messages. */
export function describeRun(type: PoolType | ValueSpace, run: Run): string {
  const n = runSize([run]);
  if (n === 1n) return showValue(type, run.start);
  return `${showValue(type, run.start)}-${showValue(type, run.end - 1n)} (${n} values)`;
}
