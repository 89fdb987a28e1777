/**
 * The zod schemas of the HTTP API (docs/API.md): requests are validated with them and the OpenAPI
 * document is generated from them, so the two cannot drift apart. Response schemas are strict objects:
 * the tests parse real responses with them, so a field added to a response without its schema fails.
 *
 * zod is imported as a namespace on purpose: esbuild can then drop the parts not used, while
 * `import { z } from 'zod'` keeps every locale zod ships (about 300 KB) in the Lambda bundle.
 */
import * as z from 'zod';
import { ERROR_CODES } from '../../lib/errors.js';
import { MAX_BATCH_ITEMS, MAX_IMPORT_ITEMS } from '../../lib/model.js';
import { LEASE_RULE, MAX_LEASE_SECONDS, MIN_LEASE_SECONDS } from '../../lib/leases.js';
import { LABEL_KEY_RULE, LABEL_VALUE_RULE, labelIssue, MAX_LABELS, parseLabelFilter, tooMany } from '../../lib/labels.js';
import { INTEGER_KINDS, KINDS_TEXT } from '../../lib/kinds.js';
import { ALLOCATION_ORDERS } from '../../lib/orders.js';
import { POOL_NAME_PATTERN, POOL_NAME_RULE } from '../../lib/config.js';
import { OWNER_PATTERN, OWNER_RULE } from '../../lib/shapes.js';
import { parseIsoTime } from '../../lib/history.js';
import { INTEGER_LIMIT, parseAddress, POOL_TYPES } from '../../lib/values.js';

/** Component schemas of the OpenAPI document, by name. */
export const components = z.registry<{ id: string; description?: string }>();

/**
 * Query parameters the OpenAPI document shows as the value they stand for rather than as the text they
 * travel as: `limit` is an integer 1-1000, which generators and fuzzers understand, where the schema
 * that checks it reads a string.
 */
export const documentedAs = z.registry<{ schema: Record<string, unknown> }>();

/** Limits what an error message repeats of its input: a 1 MiB string must not come back whole. */
export function shown(x: unknown): string {
  if (typeof x === 'string') {
    return x.length > 48 ? `the string ${JSON.stringify(x.slice(0, 48))}… (${x.length} characters)` : `the string ${JSON.stringify(x)}`;
  }
  if (x === undefined) return 'nothing';
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return 'an object';
  return `${typeof x} ${String(x)}`;
}

// ---------------------------------------------------------------- values and owners

const INTEGER_RULE = `a whole JSON number 0 <= v < 2^53 (${INTEGER_LIMIT}) for integer pools`;
const ADDRESS_RULE = 'an IPv4 or IPv6 address string (such as "10.0.0.5" or "2001:db8::5") for IP pools, or a CIDR string (such as "2001:db8:100:5::/64") for prefix pools and blocks';

/** The longest address text: an IPv6 address with an IPv4 tail. */
const MAX_ADDRESS_LENGTH = 45;

function isAddressText(text: string): boolean {
  return text.length <= MAX_ADDRESS_LENGTH && (parseAddress('ipv4', text).ok || parseAddress('ipv6', text).ok);
}

/** An address, or an address and a prefix length (its host bits are the store's to judge, with the pool's family). */
function isValueText(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return isAddressText(text);
  return isAddressText(text.slice(0, slash)) && /^(0|[1-9][0-9]{0,2})$/.test(text.slice(slash + 1)) && Number(text.slice(slash + 1)) <= 128;
}

/**
 * A value as a request gives it, checked as far as it can be before the pool's type is known (the
 * store checks the family once it has read the pool): the contract puts the request's shape before
 * POOL_NOT_FOUND, so a value that fits no pool at all is refused first.
 */
const valueError = (iss: { input?: unknown }) => `must be ${INTEGER_RULE}, or ${ADDRESS_RULE}; got ${shown(iss.input)}`;

// zod answers with the one option whose type matched when there is one, so each option carries the message.
export const Value = z
  .union([z.number({ error: valueError }).int({ error: valueError }).min(0, { error: valueError }), z.string().refine(isValueText, { error: valueError })], {
    error: valueError,
  })
  .meta({ description: 'A JSON number for integer pools, an address string for IP pools (IPv6 in RFC 5952 form), a CIDR string for prefix pools and for blocks of IP pools.' });

function isPathValueText(text: string): boolean {
  if (/^[0-9]{1,16}$/.test(text)) return BigInt(text) < INTEGER_LIMIT;
  return isAddressText(text);
}

export const PathValue = z
  .string()
  .refine(isPathValueText, {
    error: (iss) =>
      `must be a whole number 0 <= v < 2^53 in decimal digits (integer pools), or ${ADDRESS_RULE}, URL-encoded; got ${shown(iss.input)}`,
  })
  // Examples are values, not encoded segments: a client percent-encodes them itself (an encoded example would travel as %253A).
  .meta({ description: 'The value as a path segment: decimal digits for integer pools, the address for IP pools (IPv6 percent-encoded in the URL, as any client encodes a path segment).', examples: ['2024731', '10.0.0.5', '2001:db8::5'] });

/** The first character an owner may not hold, named in the message (the rule is long to scan). */
function ownerFault(input: unknown): string {
  const bad = typeof input === 'string' ? /[^!-~]|[/?#%\\]/.exec(input) : null;
  return bad ? ` (${JSON.stringify(bad[0])}, character ${bad.index + 1}, is not accepted)` : '';
}

export const Owner = z
  .string({ error: (iss) => (iss.input === undefined ? `required: ${OWNER_RULE}` : `must be a string of ${OWNER_RULE}; got ${shown(iss.input)}`) })
  .regex(OWNER_PATTERN, { error: (iss) => `must be ${OWNER_RULE}; got ${shown(iss.input)}${ownerFault(iss.input)}` })
  .meta({ description: `Who holds the value, and the idempotency key of an allocation: ${OWNER_RULE}.`, examples: ['vpc-42'] });

// The pattern is documented, not enforced here: a name no pool can have is POOL_NOT_FOUND, as SPEC says of unknown pools.
export const PoolName = z.string().meta({ description: `The pool name: ${POOL_NAME_RULE}.`, pattern: POOL_NAME_PATTERN.source, examples: ['vpc-vni'] });

// ---------------------------------------------------------------- requests

export const PoolParams = z.object({ pool: PoolName });
export const ValueParams = z.object({ pool: PoolName, value: PathValue });
export const OwnerParams = z.object({ pool: PoolName, owner: Owner });
export const OwnerOnlyParams = z.object({ owner: Owner });

const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;

/** An empty query parameter counts as absent, so a script can pass `?cursor=$NEXT` from the first page on. */
const limitError = (iss: { input?: unknown }) => `must be a whole number from 1 to ${MAX_LIMIT}; got ${shown(iss.input)}`;
const Limit = z
  .string()
  .regex(/^([0-9]{1,4})?$/, { error: limitError })
  .transform((text, ctx) => {
    if (text === '') return undefined;
    const n = Number(text);
    if (n >= 1 && n <= MAX_LIMIT) return n;
    ctx.addIssue({ code: 'custom', input: text, message: limitError({ input: text }) });
    return z.NEVER;
  })
  .meta({ description: `Page size, 1-${MAX_LIMIT}; ${DEFAULT_LIMIT} when absent.` })
  .register(documentedAs, { schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, examples: [DEFAULT_LIMIT] } });

/**
 * Opaque to callers; inside, the sort key of the last value of the page (fixed-width hex, as
 * lib/values.ts writes it) in base64url. Anything else is refused rather than passed to DynamoDB.
 */
export function encodeCursor(lastSortKey: string): string {
  return Buffer.from(lastSortKey, 'latin1').toString('base64url');
}

export function decodeCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return undefined;
  const key = Buffer.from(cursor, 'base64url').toString('latin1');
  if (!/^(?:[0-9a-f]{8}|[0-9a-f]{14}|[0-9a-f]{32})$/.test(key) || encodeCursor(key) !== cursor) return undefined;
  return key;
}

/** A `cursor` query parameter: empty is absent; anything `decode` does not recognize is refused. */
const cursorParam = (decode: (cursor: string) => string | undefined) =>
  z
    .string()
    .transform((text, ctx) => {
      if (text === '') return undefined;
      const key = decode(text);
      if (key !== undefined) return key;
      ctx.addIssue({ code: 'custom', input: text, message: `is not a cursor this API handed out; use next_cursor of the previous page as it is; got ${shown(text)}` });
      return z.NEVER;
    })
    .meta({ description: 'next_cursor of the previous page; absent or empty for the first page.' });

const Cursor = cursorParam(decodeCursor);

const LabelFilterText = z
  .string()
  .transform((text, ctx) => {
    const f = parseLabelFilter(text);
    if (f.ok) return f.value;
    ctx.addIssue({ code: 'custom', input: text, message: f.message });
    return z.NEVER;
  })
  .meta({ description: 'key:value; repeat the parameter to require several labels.', examples: ['vpc:vpc-42'] });

export const ListQuery = z.object({
  limit: Limit.optional(),
  cursor: Cursor.optional(),
  label: z.array(LabelFilterText).optional().meta({ description: 'Only allocations carrying this label (key:value); repeatable, all must match.' }),
});

/**
 * A history cursor: the sort key of the last entry handed out (its time, event, request id and
 * owner), in base64url. Anything that is not such a key is refused.
 */
const HISTORY_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[a-z_]{1,20}#[A-Za-z0-9.-]{1,80}#[!-~]{1,256}$/;

/** The sort key of a history cursor, or undefined when the text is not one this API handed out. */
function decodeHistoryCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,600}$/.test(cursor)) return undefined;
  const key = Buffer.from(cursor, 'base64url').toString('latin1');
  return HISTORY_KEY.test(key) && encodeCursor(key) === cursor ? key : undefined;
}

const HistoryCursor = cursorParam(decodeHistoryCursor);

const IsoTime = z
  .string()
  .transform((text, ctx) => {
    if (text === '') return undefined;
    try {
      return parseIsoTime('', text);
    } catch {
      ctx.addIssue({ code: 'custom', input: text, message: `must be an ISO 8601 time such as 2026-11-22 or 2026-11-22T10:00:00Z; got ${shown(text)}` });
      return z.NEVER;
    }
  })
  .register(documentedAs, { schema: { type: 'string', format: 'date-time', examples: ['2026-11-22T10:00:00Z'] } });

export const HistoryQuery = z.object({
  limit: Limit.optional(),
  cursor: HistoryCursor.optional(),
  since: IsoTime.optional().meta({ description: 'Only entries at or after this time (ISO 8601).' }),
  until: IsoTime.optional().meta({ description: 'Only entries at or before this time (ISO 8601).' }),
});

export const ReleaseQuery = z.object({
  owner: Owner.meta({ description: 'The owner releasing the value: only the owner of a value may release it.' }),
});

/** A dry run when in doubt: `?dry_run` with no value asks for one, and a dry run changes nothing. */
const DryRun = z
  .enum(['true', 'false', '1', '0', ''], { error: (iss) => `must be true or false; got ${shown(iss.input)}` })
  .transform((text) => text !== 'false' && text !== '0')
  .optional();

export const ConfigQuery = z.object({
  dry_run: DryRun.meta({ description: 'true: plan only, change nothing and record nothing.' }),
});

const BlockLength = z
  .number({ error: (iss) => `must be a whole JSON number (a prefix length such as 24); got ${shown(iss.input)}` })
  .int({ error: (iss) => `must be a whole JSON number (a prefix length such as 24); got ${shown(iss.input)}` })
  .meta({ description: 'IP and prefix pools: allocate one aligned CIDR block of this length (a /28 is 16 addresses; in a pool delegating /64s, a /60 is sixteen of them).' });

const BlockSize = z
  .number({ error: (iss) => `must be a whole JSON number (a power of two such as 16); got ${shown(iss.input)}` })
  .int({ error: (iss) => `must be a whole JSON number (a power of two such as 16); got ${shown(iss.input)}` })
  .meta({ description: 'Integer pools: allocate an aligned block of this many values (a power of two; it starts at a multiple of it).' });

const leaseError = (iss: { input?: unknown }) => `must be ${LEASE_RULE}; got ${shown(iss.input)}`;
const LeaseSeconds = z
  .number({ error: leaseError })
  .int({ error: leaseError })
  .min(MIN_LEASE_SECONDS, { error: leaseError })
  .max(MAX_LEASE_SECONDS, { error: leaseError })
  .meta({
    description: `A lease of this many seconds (${MIN_LEASE_SECONDS} to ${MAX_LEASE_SECONDS}): once it runs out, the service releases the allocation within two minutes (history: expired). Renewed with PATCH /v1/pools/{pool}/owners/{owner}; a retried allocation answers the lease held and does not renew it.`,
    examples: [3600],
  });

/** Labels as an allocation body sets them, or (with nulls, which remove a key) as a patch changes them. */
function labelsSchema(removal: boolean) {
  return z
    .record(z.string(), z.unknown(), { error: (iss) => `must be a JSON object of labels such as {"vpc": "vpc-42"}; got ${shown(iss.input)}` })
    .superRefine((labels, ctx) => {
      const keys = Object.keys(labels);
      if (!removal && keys.length > MAX_LABELS) ctx.addIssue({ code: 'custom', message: tooMany(keys.length) });
      if (removal && keys.length > 2 * MAX_LABELS) ctx.addIssue({ code: 'custom', message: `a patch names at most ${2 * MAX_LABELS} labels; got ${keys.length}` });
      for (const key of keys) {
        const issue = labelIssue(key, labels[key], { removal });
        if (issue) ctx.addIssue({ code: 'custom', path: [key], message: issue });
      }
    })
    .transform((labels) => labels as Record<string, string | null>)
    .meta({ description: `Up to ${MAX_LABELS} labels: keys of ${LABEL_KEY_RULE}, values of ${LABEL_VALUE_RULE}${removal ? '; null removes a key (RFC 7396 merge patch)' : ''}.`, examples: [{ vpc: 'vpc-42', site: 'dc1' }] });
}

export const Labels = labelsSchema(false);

const PATCH_FIELDS = ['labels', 'lease_seconds'];

export const LabelsPatch = z
  .strictObject(
    { labels: labelsSchema(true).optional(), lease_seconds: LeaseSeconds.optional() },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k.slice(0, 48))).join(', ')}; accepted fields: ${PATCH_FIELDS.join(', ')}`
          : `must be a JSON object such as {"labels": {"vpc": "vpc-42", "old": null}} or {"lease_seconds": 3600}; got ${shown(iss.input)}`,
    },
  )
  .refine((p) => p.labels !== undefined || p.lease_seconds !== undefined, { error: `names nothing to change; accepted fields: ${PATCH_FIELDS.join(', ')}` })
  .register(components, {
    id: 'LabelsPatch',
    description:
      "A change of the allocation: a JSON merge patch of its labels (RFC 7396: a key set to null is removed), its lease renewed for lease_seconds from now (or turned on), or both at once. The value and the owner never change.",
  });

/** What an allocation body holds, in POST …/{pool}/allocations and in each item of a batch (with its pool). */
const ALLOCATION_FIELDS = { owner: Owner, value: Value.optional(), prefix_length: BlockLength.optional(), size: BlockSize.optional(), labels: Labels.optional(), lease_seconds: LeaseSeconds.optional() };

/** A strict object's errors: the unknown fields and those accepted, or what the object should look like. */
function objectError(accepted: readonly string[], example: string) {
  return (iss: { code?: string; keys?: string[]; input?: unknown }) =>
    iss.code === 'unrecognized_keys' && iss.keys
      ? `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k.slice(0, 48))).join(', ')}; accepted fields: ${accepted.join(', ')}`
      : `must be a JSON object such as ${example}; got ${shown(iss.input)}`;
}

export const AllocateRequest = z
  .strictObject(ALLOCATION_FIELDS, { error: objectError(Object.keys(ALLOCATION_FIELDS), '{"owner": "vpc-42"} or {"owner": "vpc-42", "value": 2024731}') })
  .register(components, {
    id: 'AllocateRequest',
    description:
      'Without value, a random free auto_assign value; with it, exactly that value. prefix_length (IP and prefix pools) or size (integer pools) asks for an aligned block instead of one value. One allocation per (pool, owner).',
  });

const IMPORT_ITEM_FIELDS = {
  value: Value.meta({ description: 'The value held (a block: its first value, or its CIDR in IP and prefix pools).' }),
  owner: Owner,
  size: BlockSize.optional(),
  labels: Labels.optional(),
  allocated_at: z
    .string({ error: (iss) => `must be an ISO 8601 time string; got ${shown(iss.input)}` })
    .pipe(IsoTime)
    .optional()
    .meta({ description: 'When it was allocated outside the service; the import\'s time when absent.' }),
};

export const ImportItem = z
  .strictObject(IMPORT_ITEM_FIELDS, { error: objectError(Object.keys(IMPORT_ITEM_FIELDS), '{"value": 2024731, "owner": "vpc-42"}') })
  .register(components, { id: 'ImportItem', description: 'An allocation made outside the service, adopted as an explicit allocation of that value.' });

export const ImportRequest = z
  .strictObject(
    {
      allocations: z
        .array(ImportItem, { error: (iss) => `must be a list of 1 to ${MAX_IMPORT_ITEMS} allocations; got ${shown(iss.input)}` })
        .min(1, { error: `must hold 1 to ${MAX_IMPORT_ITEMS} allocations; got none` })
        .max(MAX_IMPORT_ITEMS, { error: (iss) => `must hold 1 to ${MAX_IMPORT_ITEMS} allocations; got ${Array.isArray(iss.input) ? iss.input.length : shown(iss.input)}: split it (the CLI sends ${MAX_IMPORT_ITEMS} at a time)` }),
    },
    { error: objectError(['allocations'], '{"allocations": [{"value": 2024731, "owner": "vpc-42"}]}') },
  )
  .register(components, { id: 'ImportRequest', description: `1-${MAX_IMPORT_ITEMS} allocations, all or nothing.` });

const RetireRange = z
  .strictObject({ start: Value, end: Value }, { error: objectError(['start', 'end'], '{"start": 1000, "end": 1100}') })
  .meta({ description: 'Values [start, end): end is exclusive, as in pool files.' });

export const RetireRequest = z
  .strictObject(
    {
      ranges: z.array(RetireRange, { error: (iss) => `must be a list of {"start", "end"} ranges; got ${shown(iss.input)}` }).max(256, { error: 'at most 256 ranges a call' }).optional(),
      values: z.array(Value, { error: (iss) => `must be a list of values; got ${shown(iss.input)}` }).max(1000, { error: 'at most 1,000 values a call' }).optional().meta({ description: 'Single values, or CIDR blocks in IP and prefix pools.' }),
    },
    { error: objectError(['ranges', 'values'], '{"ranges": [{"start": 1000, "end": 1100}]} or {"values": ["10.0.0.5"]}') },
  )
  .refine((b) => (b.ranges?.length ?? 0) + (b.values?.length ?? 0) > 0, { error: 'name the values to retire: "ranges", "values", or both' })
  .register(components, { id: 'RetireRequest', description: 'Free values to take out of the pool.' });

export const RetireQuery = z.object({ dry_run: DryRun.meta({ description: 'true: check that every value is free, and change nothing.' }) });

export const ImportQuery = z.object({ dry_run: DryRun.meta({ description: 'true: judge every item, report the counts, and change nothing.' }) });

/** A pool named in a body (a batch's item): the name is checked by the store, which answers POOL_NOT_FOUND. */
const BodyPool = z
  .string({ error: (iss) => (iss.input === undefined ? 'required: the pool name' : `must be a pool name string; got ${shown(iss.input)}`) })
  .meta({ description: `The pool name: ${POOL_NAME_RULE}.`, examples: ['vpc-vni'] });

/** 1-25 items: what a batch holds. */
function batchOf<T extends z.ZodType>(item: T, name: string) {
  const count = (iss: { input?: unknown }) => `must be a list of 1 to ${MAX_BATCH_ITEMS} ${name}; got ${Array.isArray(iss.input) ? `${iss.input.length} items${iss.input.length > MAX_BATCH_ITEMS ? ': split it into smaller batches' : ''}` : shown(iss.input)}`;
  return z
    .array(item, { error: count })
    .min(1, { error: count })
    .max(MAX_BATCH_ITEMS, { error: count })
    .meta({ description: `1-${MAX_BATCH_ITEMS} ${name}, in one or several pools; the answer keeps their order.` });
}

const BATCH_ITEM_FIELDS = { pool: BodyPool, ...ALLOCATION_FIELDS };

export const BatchAllocationItem = z
  .strictObject(BATCH_ITEM_FIELDS, { error: objectError(Object.keys(BATCH_ITEM_FIELDS), '{"pool": "vpc-vni", "owner": "vpc-42"}') })
  .register(components, { id: 'BatchAllocationItem', description: 'One allocation of a batch: the body of POST /v1/pools/{pool}/allocations with its pool.' });

export const BatchAllocateRequest = z
  .strictObject({ allocations: batchOf(BatchAllocationItem, 'allocations') }, { error: objectError(['allocations'], '{"allocations": [{"pool": "vpc-vni", "owner": "vpc-42"}]}') })
  .register(components, {
    id: 'BatchAllocateRequest',
    description: `1-${MAX_BATCH_ITEMS} allocations in one or several pools, all or nothing; each (pool, owner) at most once.`,
  });

export const BatchReleaseItem = z
  .strictObject({ pool: BodyPool, owner: Owner }, { error: objectError(['pool', 'owner'], '{"pool": "vpc-vni", "owner": "vpc-42"}') })
  .register(components, { id: 'BatchReleaseItem', description: 'What the owner holds in the pool.' });

export const BatchReleaseRequest = z
  .strictObject({ releases: batchOf(BatchReleaseItem, 'releases') }, { error: objectError(['releases'], '{"releases": [{"pool": "vpc-vni", "owner": "vpc-42"}]}') })
  .register(components, { id: 'BatchReleaseRequest', description: `1-${MAX_BATCH_ITEMS} releases in one or several pools, in one step; each (pool, owner) at most once.` });

export const ConfigFile = z.string().meta({ description: 'A pool file (TOML), read as TOML whatever the Content-Type.' });

/** What the document shows as the body of POST /v1/config, so that a tool has a file to send. */
export const CONFIG_EXAMPLE = '[pools.vpc-vni]\ntype = "integer"\nkind = "vni"\nranges = [{ start = 2024500, end = 2025500 }]\n';

// ---------------------------------------------------------------- responses

const Count = z.number().int().min(0);
const Timestamp = z.string().meta({ description: 'ISO 8601, UTC', examples: ['2026-11-22T10:00:00.000Z'] });
// Values are never negative: integers are 0 <= v < 2^53 (a range's exclusive end may be 2^53).
const JsonValue = z.union([z.number().int().min(0), z.string()]);

export const Range = z
  .strictObject({ start: JsonValue, end: JsonValue, auto_assign: z.boolean(), size: Count })
  .register(components, { id: 'Range', description: 'A run of values [start, end) with its auto_assign.' });

export const Pool = z
  .strictObject({
    name: z.string(),
    type: z.enum(POOL_TYPES),
    size: Count,
    used: Count,
    free: Count,
    auto_assign_free: Count,
    utilization: z.number().min(0).max(1).meta({ description: 'used / size, 0..1' }),
    min: JsonValue.meta({ description: 'Smallest value, inclusive.' }),
    max: JsonValue.meta({ description: 'Largest value, inclusive.' }),
    ranges: z.array(Range),
    created_at: Timestamp,
    updated_at: Timestamp,
    max_block_size: Count.meta({ description: 'The largest block one allocation may ask for, in values.' }),
    kind: z
      .enum(INTEGER_KINDS)
      .nullable()
      .meta({ description: `Integer pools: what the numbers are, ${KINDS_TEXT}; fixed at creation. null for a plain integer pool and for IP pools.`, examples: ['vni'] }),
    scope: z
      .string()
      .nullable()
      .meta({ description: "The namespace inside which the pool's values are unique (pools overlap-check only against pools of the same family and scope); fixed at creation. null for the family's default scope.", examples: ['fabric-a'] }),
    allocation_order: z
      .enum(ALLOCATION_ORDERS)
      .meta({ description: 'Which free value an automatic allocation takes: "random" (spreads concurrent clients over the pool) or "lowest" (the lowest free value or aligned block first). A later pool file may change it.' }),
    disabled: z.boolean().meta({ description: 'The pool takes no new allocation (PATCH /v1/pools/{pool}); lookups, listings, releases and imports still work. Also true while a deletion is under way.' }),
    delegate_prefix_len: z.number().int().min(1).max(128).optional().meta({ description: 'Prefix pools only: the length of every value.' }),
  })
  .register(components, { id: 'Pool' });

export const PoolPatch = z
  .strictObject({ disabled: z.boolean({ error: 'must be true or false' }) }, { error: objectError(['disabled'], '{"disabled": true}') })
  .register(components, { id: 'PoolPatch', description: 'What a pool\'s PATCH changes: whether it takes new allocations.' });

export const PoolList = z.strictObject({ pools: z.array(Pool) }).register(components, { id: 'PoolList' });

export const RetireResult = z
  .strictObject({ retired: Count.meta({ description: 'Values taken out (in a dry run: that would be).' }), pool: Pool.meta({ description: 'The pool as it now is (in a dry run: as it still is).' }) })
  .register(components, { id: 'RetireResult' });

export const ImportResult = z
  .strictObject({ imported: Count.meta({ description: 'Allocations created (in a dry run: that would be).' }), unchanged: Count.meta({ description: 'Items the same owner already held as given.' }) })
  .register(components, { id: 'ImportResult' });


export const Allocation = z
  .strictObject({
    pool: z.string(),
    value: JsonValue,
    owner: z.string(),
    allocated_at: Timestamp,
    size: Count.meta({ description: 'How many values are held: 1 for a single value, or the block\'s size (in IP and prefix pools, value is then the block\'s CIDR).' }),
    labels: z.record(z.string(), z.string()).meta({ description: 'What the allocation carries; {} when nothing.' }),
    allocated_by: z.string().nullable().meta({ description: 'Who allocated it: the IAM principal ARN behind API Gateway, "local" on the local stack, "startup" or "config-sync" for what those do; null when not recorded.' }),
    expires_at: Timestamp.nullable().meta({ description: 'When its lease runs out (ISO 8601, UTC); null when it has no lease.' }),
  })
  .register(components, { id: 'Allocation' });

export const OwnerHoldings = z
  .strictObject({ allocations: z.array(Allocation) })
  .register(components, { id: 'OwnerHoldings', description: 'What an owner holds in every pool, by pool name.' });

export const HistoryEntry = z
  .strictObject({
    pool: z.string(),
    value: JsonValue,
    size: Count,
    owner: z.string(),
    event: z.enum(['allocated', 'released', 'labels_changed', 'expired', 'imported', 'repaired']),
    at: Timestamp,
    by: z.string().meta({ description: 'Who did it: the IAM principal ARN behind API Gateway, "local" on the local stack, "startup" or "config-sync"; "unknown" when not recorded.' }),
    request_id: z.string().meta({ description: 'The request that did it; every item of one batch shares it.' }),
    labels: z.record(z.string(), z.string()).meta({ description: 'The labels the allocation carried after the event.' }),
  })
  .register(components, { id: 'HistoryEntry' });

export const HistoryPage = z
  .strictObject({ history: z.array(HistoryEntry), next_cursor: z.string().nullable() })
  .register(components, { id: 'HistoryPage', description: 'Newest first; next_cursor is null on the last page. A page may be short and still have a next one.' });

export const BatchAllocations = z
  .strictObject({ allocations: z.array(Allocation) })
  .register(components, { id: 'BatchAllocations', description: 'Every item of the batch as held, in item order.' });

export const BatchReleases = z
  .strictObject({
    releases: z.array(
      z.strictObject({ pool: z.string(), owner: z.string(), released: z.boolean().meta({ description: 'false when the owner held nothing there (that fails nothing).' }) }),
    ),
  })
  .register(components, { id: 'BatchReleases', description: 'Every item of the batch, in item order.' });

export const AllocationPage = z
  .strictObject({ allocations: z.array(Allocation), next_cursor: z.string().nullable() })
  .register(components, { id: 'AllocationPage', description: 'Allocations in value order; next_cursor is null on the last page.' });

export const ConfigResult = z
  .strictObject({
    applied: z.boolean(),
    dry_run: z.boolean(),
    pools: z.array(z.strictObject({ name: z.string(), action: z.enum(['created', 'grown', 'unchanged']), added: Count, size: Count })),
    ignored: z.array(z.strictObject({ pool: z.string(), reason: z.string() })),
    warnings: z.array(z.string()),
  })
  .register(components, { id: 'ConfigResult' });

export const ConfigIssue = z.strictObject({ path: z.string(), message: z.string() }).register(components, { id: 'ConfigIssue' });

export const Sync = z
  .strictObject({
    id: z.string(),
    source: z.enum(['s3', 'http', 'startup']),
    status: z.enum(['applied', 'rejected']),
    object: z
      .strictObject({ bucket: z.string(), key: z.string(), version_id: z.string().nullable(), etag: z.string().nullable() })
      .optional()
      .meta({ description: 'The uploaded object (S3 syncs only).' }),
    at: Timestamp,
    result: ConfigResult.optional().meta({ description: 'When applied.' }),
    errors: z.array(ConfigIssue).optional().meta({ description: 'When rejected.' }),
  })
  .register(components, { id: 'Sync' });

export const SyncList = z.strictObject({ syncs: z.array(Sync) }).register(components, { id: 'SyncList', description: 'Newest first.' });

export const CheckReport = z
  .strictObject({
    ok: z.boolean(),
    pools: z.array(
      z.strictObject({
        name: z.string(),
        ok: z.boolean(),
        size: Count,
        used: Count.meta({ description: 'Values marked allocated in the chunks this call read.' }),
        allocations: Count.meta({ description: 'Allocation records this call read.' }),
        problems: z.array(z.string()),
      }),
    ),
    next_cursor: z.string().nullable().meta({ description: 'Continues a check that did not fit in one call; null when it is complete.' }),
  })
  .register(components, {
    id: 'CheckReport',
    description:
      'Pools recounted from their stored state; each problem is a disagreement between bitmaps, counters and allocation records that persisted when the items involved were read again.',
  });

export const CheckQuery = z.object({
  pool: PoolName.optional().meta({ description: 'Check this pool only.' }),
  cursor: z.string().max(2048).optional().meta({ description: 'next_cursor of the previous call.' }),
});

export const RepairQuery = CheckQuery.extend({
  dry_run: DryRun.meta({ description: 'true: list what would be mended, and change nothing.' }),
});

export const RepairReport = z
  .strictObject({
    repaired: z.array(
      z.strictObject({
        pool: z.string(),
        problem: z.string().meta({ description: 'The disagreement, as check reports it.' }),
        action: z.string().meta({ description: 'What was done (or would be, in a dry run), or why nothing was.' }),
      }),
    ),
    next_cursor: z.string().nullable().meta({ description: 'Continues a repair whose check did not fit in one call; null when complete.' }),
  })
  .register(components, { id: 'RepairReport', description: 'What a repair mended: every disagreement check confirmed that has a safe mend.' });

export const Health = z.strictObject({ status: z.literal('ok') }).register(components, { id: 'Health' });

export const ErrorBody = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z.unknown().optional().meta({ description: 'INVALID_CONFIG: every problem as {path, message}; others: what helps.' }),
    }),
  })
  .register(components, { id: 'Error' });
