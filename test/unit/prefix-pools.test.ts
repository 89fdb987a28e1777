/**
 * Prefix pools in the pool file and in registration (lib/config.ts, lib/plan.ts): what they hold,
 * every rule with the place of its error, growth, a fixed delegate_prefix_len, MAX_POOL_SIZE in
 * values, and overlap with address pools judged on the addresses covered.
 */
import { describe, expect, test } from 'vitest';
import type { ConfigIssue } from '../../lib/config.js';
import { applyPlan, type Plan, planFile, type RegisteredPool } from '../../lib/plan.js';
import { rangesJson } from '../../lib/shapes.js';

const OPTIONS = { maxPoolSize: 250_000 };

function planned(registered: RegisteredPool[], toml: string, maxPoolSize = OPTIONS.maxPoolSize): Plan {
  const r = planFile(toml, registered, { maxPoolSize });
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.plan;
}

function errorsOf(registered: RegisteredPool[], toml: string, maxPoolSize = OPTIONS.maxPoolSize): ConfigIssue[] {
  const r = planFile(toml, registered, { maxPoolSize });
  if (r.ok) throw new Error('expected the file to be rejected');
  return r.errors;
}

const DPU_V6 = '[pools.dpu-v6]\ntype = "ipv6-prefix"\nprefix = "2001:db8:100::/48"\ndelegate_prefix_len = 64';
const NODE_BLOCKS = '[pools.node-blocks]\ntype = "ipv4-prefix"\nprefix = "10.244.0.0/16"\ndelegate_prefix_len = 26\nexclude = ["10.244.255.0/24"]';

describe('what a prefix pool holds', () => {
  test('a /48 delegated as /64s: 65,536 values, from the first /64 to the last', () => {
    const [change] = planned([], DPU_V6).changes;
    expect(change).toMatchObject({ name: 'dpu-v6', type: 'ipv6-prefix', delegate: 64, action: 'created', size: 65_536n });
    expect(rangesJson({ type: 'ipv6-prefix', delegate: 64 }, change.added)).toEqual([{ start: '2001:db8:100::/64', end: '2001:db8:101::/64', auto_assign: true, size: 65_536 }]);
  });

  test('a /16 delegated as /26s, less every value an excluded /24 overlaps: 1,020', () => {
    expect(planned([], NODE_BLOCKS).changes[0].size).toBe(1020n);
    // An exclude shorter or longer than the values: every value it touches goes.
    const partial = '[pools.p]\ntype = "ipv4-prefix"\nprefix = "10.0.0.0/24"\ndelegate_prefix_len = 26\nexclude = ["10.0.0.70"]';
    expect(planned([], partial).changes[0].size).toBe(3n);
  });

  test('no network or broadcast rule: a /127 as /128s is 2 values, a prefix delegated at its own length is 1', () => {
    expect(planned([], '[pools.p]\ntype = "ipv6-prefix"\nprefix = "2001:db8::/127"\ndelegate_prefix_len = 128').changes[0].size).toBe(2n);
    expect(planned([], '[pools.p]\ntype = "ipv4-prefix"\nprefix = "10.0.0.0/24"\ndelegate_prefix_len = 24').changes[0].size).toBe(1n);
  });

  test('ranges of prefixes of exactly the delegated length, end exclusive', () => {
    const toml = '[pools.p]\ntype = "ipv6-prefix"\ndelegate_prefix_len = 64\nranges = [{ start = "2001:db8:200::/64", end = "2001:db8:200:10::/64" }]';
    expect(planned([], toml).changes[0].size).toBe(16n);
  });

  test('MAX_POOL_SIZE counts values: a /32 delegated as /64s says how many it would hold', () => {
    const [e] = errorsOf([], '[pools.big]\ntype = "ipv6-prefix"\nprefix = "2001:db8::/32"\ndelegate_prefix_len = 64', 16_777_216);
    expect(e.path).toBe('pools.big');
    expect(e.message).toContain('4,294,967,296 values');
    expect(e.message).toContain('MAX_POOL_SIZE');
  });
});

describe('every rule, with the place of its error', () => {
  test.each<[string, string, string, RegExp]>([
    ['delegate_prefix_len missing on a new pool', '[pools.p]\ntype = "ipv6-prefix"\nprefix = "2001:db8::/48"', 'pools.p.delegate_prefix_len', /required/],
    ['shorter than the prefix', '[pools.p]\ntype = "ipv6-prefix"\nprefix = "2001:db8::/48"\ndelegate_prefix_len = 40', 'pools.p.delegate_prefix_len', /40 is shorter than the pool's prefix 2001:db8::\/48.*use 48 to 128/],
    ['longer than the family', '[pools.p]\ntype = "ipv4-prefix"\nprefix = "10.0.0.0/16"\ndelegate_prefix_len = 33', 'pools.p.delegate_prefix_len', /32/],
    ['zero', '[pools.p]\ntype = "ipv4-prefix"\nprefix = "10.0.0.0/16"\ndelegate_prefix_len = 0', 'pools.p.delegate_prefix_len', /1-32|1 to 32/],
    ['not an integer', '[pools.p]\ntype = "ipv4-prefix"\nprefix = "10.0.0.0/16"\ndelegate_prefix_len = "26"', 'pools.p.delegate_prefix_len', /whole number|integer/],
    ['on an address pool', '[pools.p]\ntype = "ipv4"\nprefix = "10.0.0.0/16"\ndelegate_prefix_len = 26', 'pools.p.delegate_prefix_len', /only ipv4-prefix and ipv6-prefix pools take a delegate_prefix_len/],
    ['a range bound of another length', '[pools.p]\ntype = "ipv6-prefix"\ndelegate_prefix_len = 64\nranges = [{ start = "2001:db8:200::/60", end = "2001:db8:210::/64" }]', 'pools.p.ranges[0].start', /\/64/],
    ['a range bound that is an address', '[pools.p]\ntype = "ipv6-prefix"\ndelegate_prefix_len = 64\nranges = [{ start = "2001:db8:200::", end = "2001:db8:210::/64" }]', 'pools.p.ranges[0].start', /is an address; values of this pool are \/64 prefixes, such as "2001:db8:200::\/64"/],
  ])('%s', (_name, toml, path, message) => {
    const errors = errorsOf([], toml);
    expect(errors.map((e) => e.path)).toContain(path);
    expect(errors.find((e) => e.path === path)?.message).toMatch(message);
  });

  test('a prefix pool must not overlap an address pool of its family, judged on the addresses covered', () => {
    const toml = `${NODE_BLOCKS}\n[pools.hosts]\ntype = "ipv4"\nranges = [{ start = "10.244.3.10", end = "10.244.3.20" }]`;
    const errors = errorsOf([], toml);
    expect(errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(errors)).toContain('node-blocks');
    expect(JSON.stringify(errors)).toContain('hosts');
    // Inside the excluded /24, or in another family, there is nothing to meet.
    expect(planned([], `${NODE_BLOCKS}\n[pools.hosts]\ntype = "ipv4"\nranges = [{ start = "10.244.255.10", end = "10.244.255.20" }]`).changes).toHaveLength(2);
    expect(planned([], `${DPU_V6}\n${NODE_BLOCKS}`).changes).toHaveLength(2);
    // Two prefix pools of one family are judged the same way.
    const twice = `${DPU_V6}\n[pools.other]\ntype = "ipv6-prefix"\nprefix = "2001:db8:100:8000::/56"\ndelegate_prefix_len = 60`;
    expect(errorsOf([], twice).length).toBeGreaterThan(0);
  });
});

describe('registration', () => {
  const registered = applyPlan([], planned([], DPU_V6));

  test('a file that grows the pool may leave delegate_prefix_len out, or repeat it', () => {
    const grow = '[pools.dpu-v6]\ntype = "ipv6-prefix"\nprefix = "2001:db8:100::/48"\nranges = [{ start = "2001:db8:200::/64", end = "2001:db8:200:10::/64" }]';
    expect(planned(registered, grow).changes[0]).toMatchObject({ action: 'grown', addedCount: 16n, size: 65_552n, delegate: 64 });
    expect(planned(registered, DPU_V6).changes[0]).toMatchObject({ action: 'unchanged', size: 65_536n });
  });

  test('another delegate_prefix_len for a registered pool is an error at its place', () => {
    const [e] = errorsOf(registered, DPU_V6.replace('= 64', '= 56'));
    expect(e).toEqual({ path: 'pools.dpu-v6.delegate_prefix_len', message: expect.stringContaining('registered with delegate_prefix_len 64; it cannot change (got 56)') });
  });
});
