import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type ConfigIssue, parsePoolsFile } from '../../lib/config.js';
import { DEFAULT_MAX_POOL_SIZE, planFile } from '../../lib/plan.js';
import { runSize } from '../../lib/runs.js';
import { rangesJson } from '../../lib/shapes.js';

/** Validates one file alone, as `resource-pool validate` does: every pool is new. */
function validate(toml: string, maxPoolSize = DEFAULT_MAX_POOL_SIZE) {
  return planFile(toml, [], { maxPoolSize });
}

function sizes(toml: string): Record<string, number> {
  const r = validate(toml);
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return Object.fromEntries(r.plan.changes.map((c) => [c.name, Number(c.size)]));
}

function errorsOf(toml: string, maxPoolSize?: number): ConfigIssue[] {
  const r = validate(toml, maxPoolSize);
  if (r.ok) throw new Error('expected the file to be rejected');
  return r.errors;
}

describe("NICo's documented cases", () => {
  test('1,000 VNIs from 2024500 to 2025500 (end exclusive)', () => {
    expect(sizes('[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = "2024500", end = "2025500" }]')).toEqual({ 'vpc-vni': 1000 });
  });

  test('a /26 lo-ip pool holds 62', () => {
    expect(sizes('[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"')).toEqual({ 'lo-ip': 62 });
  });

  test('10.180.63.1 to 10.180.63.255 holds 254', () => {
    expect(sizes('[pools.vpc-dpu-lo]\ntype = "ipv4"\nranges = [{ start = "10.180.63.1", end = "10.180.63.255" }]')).toEqual({ 'vpc-dpu-lo': 254 });
  });

  test('the example site config is valid', () => {
    const r = validate(readFileSync('config/pools.toml', 'utf8'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.changes.map((c) => [c.name, Number(c.size)])).toEqual([
      ['lo-ip', 62],
      ['vpc-dpu-lo', 254],
      ['vpc-vni', 1000],
      ['external-vpc-vni', 1016],
      ['tenant-vlan', 4083],
      ['vtep-v6', 254],
      ['dpu-v6', 65_536],
    ]);
  });
});

describe('accepted forms', () => {
  test.each([
    ['prefix /24 → 254', 'type = "ipv4"\nprefix = "10.0.0.0/24"', 254],
    ['prefix /28 → 14', 'type = "ipv4"\nprefix = "10.0.0.0/28"', 14],
    ['prefix /31 → 2 (RFC 3021)', 'type = "ipv4"\nprefix = "10.0.0.0/31"', 2],
    ['prefix /32 → 1', 'type = "ipv4"\nprefix = "10.0.0.9/32"', 1],
    ['IPv6 /120 → 255', 'type = "ipv6"\nprefix = "2001:db8:0:1::/120"', 255],
    ['IPv6 /127 → 2', 'type = "ipv6"\nprefix = "2001:db8::/127"', 2],
    ['IPv6 /128 → 1', 'type = "ipv6"\nprefix = "2001:db8::9/128"', 1],
    ['integer range as TOML integers', 'type = "integer"\nranges = [{ start = 100, end = 200 }]', 100],
    ['integer range as hex strings', 'type = "integer"\nranges = [{ start = "0x2000000", end = "0x2000010" }]', 16],
    ['integer range as TOML hex literals', 'type = "integer"\nranges = [{ start = 0x10, end = 0x20 }]', 16],
    ['IPv6 range', 'type = "ipv6"\nranges = [{ start = "2001:db8::10", end = "2001:db8::20" }]', 16],
    ['several ranges', 'type = "integer"\nranges = [{ start = 1, end = 10 }, { start = 20, end = 30 }]', 19],
    ['touching ranges are not overlapping', 'type = "integer"\nranges = [{ start = 1, end = 10 }, { start = 10, end = 20 }]', 19],
    ['exclude a value', 'type = "ipv4"\nprefix = "10.0.0.0/24"\nexclude = ["10.0.0.1"]', 253],
    ['exclude a CIDR', 'type = "ipv4"\nprefix = "10.0.0.0/24"\nexclude = ["10.0.0.0/28"]', 239],
    ['exclude a range', 'type = "integer"\nranges = [{ start = 2, end = 4095 }]\nexclude = [{ start = 100, end = 110 }]', 4083],
    ['exclude an integer given as a string', 'type = "integer"\nranges = [{ start = 1, end = 10 }]\nexclude = ["5", 6]', 7],
    ['range beside a prefix past its broadcast address', 'type = "ipv4"\nprefix = "10.0.0.0/24"\nranges = [{ start = "10.0.0.255", end = "10.0.1.1" }]', 256],
  ])('%s', (_name, body, size) => {
    // Both prefix and ranges are only allowed on registered pools, so those cases go through parsing alone.
    const parsed = parsePoolsFile(`[pools.p]\n${body}`);
    expect(parsed.errors).toEqual([]);
    expect(Number(runSize(parsed.pools[0].parts))).toBe(size);
  });

  test('auto_assign: pool default, range override', () => {
    const parsed = parsePoolsFile(
      '[pools.p]\ntype = "integer"\nauto_assign = false\nranges = [{ start = 1, end = 5 }, { start = 10, end = 12, auto_assign = true }]',
    );
    expect(parsed.errors).toEqual([]);
    expect(rangesJson('integer', parsed.pools[0].parts)).toEqual([
      { start: 1, end: 5, auto_assign: false, size: 4 },
      { start: 10, end: 12, auto_assign: true, size: 2 },
    ]);
  });

  test('other top-level tables are warnings, so a whole server config can be uploaded', () => {
    const r = validate('listen = "0.0.0.0:8080"\n[api]\nport = 1\n[pools.v]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.plan.warnings).toEqual(["top-level key 'listen' ignored", "top-level table 'api' ignored"]);
  });

  test('an exclude entry outside the definition is a warning', () => {
    const r = validate('[pools.v]\ntype = "integer"\nranges = [{ start = 1, end = 10 }]\nexclude = [50]');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.plan.warnings).toEqual(["pools.v.exclude[0]: 50 is outside the definition of pool 'v'; ignored"]);
  });

  test('pools of different families may share numbers', () => {
    expect(
      sizes('[pools.a]\ntype = "ipv4"\nprefix = "0.0.0.0/30"\n[pools.b]\ntype = "integer"\nranges = [{ start = 0, end = 4 }]'),
    ).toEqual({ a: 2, b: 4 });
  });

  test("a prefix's network and broadcast addresses do not count as overlap", () => {
    expect(
      sizes('[pools.a]\ntype = "ipv4"\nprefix = "10.0.0.0/24"\n[pools.b]\ntype = "ipv4"\nranges = [{ start = "10.0.0.255", end = "10.0.1.1" }]'),
    ).toEqual({ a: 254, b: 2 });
  });

  test.each(['a', 'A.b-c_d', '0pool', 'x'.repeat(64)])('pool name %s is accepted', (name) => {
    expect(sizes(`[pools."${name}"]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]`)).toEqual({ [name]: 1 });
  });
});

describe('every error names its place and what is accepted', () => {
  const cases: [string, string, ConfigIssue[]][] = [
    ['invalid TOML', 'pools = [', [{ path: 'line 1, column 9', message: expect.stringContaining('invalid TOML') }]],
    ['no pools table', '[api]\nx = 1', [{ path: 'pools', message: expect.stringContaining('no [pools.<name>] table') }]],
    ['pools is not a table', 'pools = 5', [{ path: 'pools', message: expect.stringContaining('must be a table of pools') }]],
    ['empty pools table', '[pools]', [{ path: 'pools', message: expect.stringContaining('holds no pool') }]],
    ['pool is not a table', '[pools]\nx = 1', [{ path: 'pools.x', message: expect.stringContaining('must be a table') }]],
    ['bad pool name', '[pools."-x"]\ntype = "integer"\nranges = []', [{ path: 'pools.-x', message: expect.stringContaining('1-64 characters of A-Za-z0-9._-') }]],
    ['name too long', `[pools.${'x'.repeat(65)}]\ntype = "integer"`, [{ path: `pools.${'x'.repeat(65)}`, message: expect.stringContaining('invalid pool name') }]],
    ['missing type', '[pools.x]\nranges = [{ start = 1, end = 2 }]', [{ path: 'pools.x.type', message: 'required: one of "ipv4", "ipv6", "integer", "ipv4-prefix", "ipv6-prefix"' }]],
    ['unknown type', '[pools.x]\ntype = "ipv5"\nranges = []', [{ path: 'pools.x.type', message: 'must be one of "ipv4", "ipv6", "integer", "ipv4-prefix", "ipv6-prefix"; got the string "ipv5"' }]],
    ['unknown key', '[pools.x]\ntype = "integer"\nrange = [{ start = 1, end = 2 }]', [
      { path: 'pools.x.range', message: "unknown key 'range'; accepted keys: type, kind, prefix, delegate_prefix_len, ranges, auto_assign, exclude, scope, allocation_order" },
    ]],
    ['unknown key in a range', '[pools.x]\ntype = "integer"\nranges = [{ start = 1, end = 2, auto = true }]', [
      { path: 'pools.x.ranges[0].auto', message: "unknown key 'auto'; accepted keys: start, end, auto_assign" },
    ]],
    ['neither prefix nor ranges', '[pools.x]\ntype = "ipv4"', [{ path: 'pools.x', message: expect.stringContaining('got neither') }]],
    ['both prefix and ranges on a new pool', '[pools.x]\ntype = "ipv4"\nprefix = "10.0.0.0/24"\nranges = [{ start = "10.0.1.1", end = "10.0.1.5" }]', [
      { path: 'pools.x', message: expect.stringContaining('got both') },
    ]],
    ['prefix on an integer pool', '[pools.x]\ntype = "integer"\nprefix = "10.0.0.0/24"', [{ path: 'pools.x.prefix', message: expect.stringContaining('integer pools take no prefix') }]],
    ['non-canonical prefix', '[pools.x]\ntype = "ipv4"\nprefix = "10.180.62.5/26"', [{ path: 'pools.x.prefix', message: expect.stringContaining('canonical prefix is "10.180.62.0/26"') }]],
    ['prefix of the wrong family', '[pools.x]\ntype = "ipv6"\nprefix = "10.0.0.0/24"', [{ path: 'pools.x.prefix', message: expect.stringContaining('not a valid IPv6 prefix') }]],
    ['prefix not a string', '[pools.x]\ntype = "ipv4"\nprefix = 24', [{ path: 'pools.x.prefix', message: expect.stringContaining('expected a CIDR string') }]],
    ['ranges not an array', '[pools.x]\ntype = "integer"\nranges = { start = 1, end = 2 }', [{ path: 'pools.x.ranges', message: expect.stringContaining('expected an array') }]],
    ['range not a table', '[pools.x]\ntype = "integer"\nranges = [5]', [{ path: 'pools.x.ranges[0]', message: expect.stringContaining('expected a table') }]],
    ['range without end', '[pools.x]\ntype = "integer"\nranges = [{ start = 1 }]', [{ path: 'pools.x.ranges[0].end', message: expect.stringContaining('required') }]],
    ['end equal to start', '[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 1, end = 5 }, { start = 10, end = 10 }]', [
      { path: 'pools.vpc-vni.ranges[1].end', message: 'end 10 must be greater than start 10 (end is exclusive)' },
    ]],
    ['end before start (IP)', '[pools.x]\ntype = "ipv4"\nranges = [{ start = "10.0.0.9", end = "10.0.0.1" }]', [
      { path: 'pools.x.ranges[0].end', message: expect.stringContaining('use a prefix') },
    ]],
    ['integer too large', '[pools.x]\ntype = "integer"\nranges = [{ start = 1, end = 9007199254740993 }]', [
      { path: 'pools.x.ranges[0].end', message: expect.stringContaining('0 <= v < 2^53') },
    ]],
    ['negative integer', '[pools.x]\ntype = "integer"\nranges = [{ start = -1, end = 5 }]', [{ path: 'pools.x.ranges[0].start', message: expect.stringContaining('out of range') }]],
    ['float', '[pools.x]\ntype = "integer"\nranges = [{ start = 1.5, end = 5 }]', [{ path: 'pools.x.ranges[0].start', message: expect.stringContaining('not a whole number') }]],
    ['integer as a malformed string', '[pools.x]\ntype = "integer"\nranges = [{ start = "1_000", end = 5000 }]', [
      { path: 'pools.x.ranges[0].start', message: expect.stringContaining('decimal digits') },
    ]],
    ['IP given as a number', '[pools.x]\ntype = "ipv4"\nranges = [{ start = 1, end = 5 }]', [
      { path: 'pools.x.ranges[0].start', message: expect.stringContaining('IPv4 address string') },
      { path: 'pools.x.ranges[0].end', message: expect.stringContaining('IPv4 address string') },
    ]],
    ['auto_assign not a boolean', '[pools.x]\ntype = "integer"\nauto_assign = "yes"\nranges = [{ start = 1, end = 5, auto_assign = 1 }]', [
      { path: 'pools.x.auto_assign', message: 'must be true or false; got the string "yes"' },
      { path: 'pools.x.ranges[0].auto_assign', message: 'must be true or false; got number 1' },
    ]],
    ['overlapping ranges', '[pools.x]\ntype = "integer"\nranges = [{ start = 1, end = 10 }, { start = 5, end = 20 }]', [
      { path: 'pools.x.ranges[1]', message: 'overlaps ranges[0] (both hold 5-9 (5 values)); ranges and prefix of one pool must not overlap' },
    ]],
    ['range inside the prefix (registered pools only take both)', '[pools.x]\ntype = "ipv4"\nprefix = "10.0.0.0/24"\nranges = [{ start = "10.0.0.5", end = "10.0.0.6" }]', [
      { path: 'pools.x.ranges[0]', message: expect.stringContaining('overlaps prefix (both hold 10.0.0.5)') },
    ]],
    ['pools of one family overlap', '[pools.a]\ntype = "integer"\nranges = [{ start = 1, end = 10 }]\n[pools.b]\ntype = "integer"\nranges = [{ start = 9, end = 12 }]', [
      { path: 'pools.b.ranges[0]', message: "overlaps pool 'a' (both hold 9); pools of the same family must not share values" },
    ]],
    ['exclude not an array', '[pools.x]\ntype = "integer"\nranges = [{ start = 1, end = 5 }]\nexclude = 3', [{ path: 'pools.x.exclude', message: expect.stringContaining('expected an array') }]],
    ['exclude CIDR on an integer pool', '[pools.x]\ntype = "integer"\nranges = [{ start = 1, end = 5 }]\nexclude = ["1/2"]', [
      { path: 'pools.x.exclude[0]', message: expect.stringContaining('not CIDRs') },
    ]],
    ['exclude of the wrong form', '[pools.x]\ntype = "ipv4"\nprefix = "10.0.0.0/24"\nexclude = [true]', [{ path: 'pools.x.exclude[0]', message: expect.stringContaining('an exclude entry is a value') }]],
    ['exclude range with an unknown key', '[pools.x]\ntype = "integer"\nranges = [{ start = 1, end = 5 }]\nexclude = [{ start = 1, end = 2, auto_assign = false }]', [
      { path: 'pools.x.exclude[0].auto_assign', message: "unknown key 'auto_assign'; accepted keys: start, end" },
    ]],
    ['everything excluded', '[pools.x]\ntype = "ipv4"\nprefix = "10.0.0.0/30"\nexclude = ["10.0.0.0/30"]', [{ path: 'pools.x', message: expect.stringContaining('holds no value') }]],
    ['empty ranges', '[pools.x]\ntype = "integer"\nranges = []', [{ path: 'pools.x', message: expect.stringContaining('holds no value') }]],
    ['over MAX_POOL_SIZE', '[pools.x]\ntype = "integer"\nranges = [{ start = 0, end = 250001 }]', [
      { path: 'pools.x', message: expect.stringContaining('250,001 values, more than MAX_POOL_SIZE (250,000)') },
    ]],
    ['a huge IPv6 prefix', '[pools.x]\ntype = "ipv6"\nprefix = "2001:db8::/64"', [
      { path: 'pools.x', message: expect.stringContaining('18,446,744,073,709,551,615 values, more than MAX_POOL_SIZE') },
    ]],
  ];

  test.each(cases)('%s', (_name, toml, expected) => {
    expect(errorsOf(toml)).toEqual(expected);
  });

  test('errors found while planning are reported with errors found while parsing', () => {
    const errors = errorsOf('[pools.a]\ntype = "ipv9"\n[pools.b]\ntype = "integer"');
    expect(errors.map((e) => e.path)).toEqual(['pools.a.type', 'pools.b']);
  });

  test('a file with several problems reports all of them', () => {
    const errors = errorsOf(
      '[pools.a]\ntype = "ipv4"\nprefix = "10.0.0.1/24"\n[pools.b]\ntype = "integer"\nranges = [{ start = 5, end = 1 }, { start = "x", end = 2, foo = 1 }]\nprefx = 1',
    );
    expect(errors.map((e) => e.path)).toEqual([
      'pools.a.prefix',
      'pools.b.prefx',
      'pools.b.ranges[0].end',
      'pools.b.ranges[1].foo',
      'pools.b.ranges[1].start',
    ]);
  });

  test('MAX_POOL_SIZE can be raised to the whole 24-bit VNI space', () => {
    const toml = '[pools.vni]\ntype = "integer"\nranges = [{ start = 0, end = 16777216 }]';
    expect(errorsOf(toml)[0].path).toBe('pools.vni');
    expect(validate(toml, 16_777_216).ok).toBe(true);
  });
});
