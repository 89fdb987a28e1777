import { fc, test as propTest } from '@fast-check/vitest';
import { IPv4, IPv6, Validator } from 'ip-num';
import { describe, expect, test } from 'vitest';
import {
  formatIPv6,
  formatValue,
  INTEGER_LIMIT,
  parseAddress,
  parseConfigValue,
  parseJsonValue,
  parsePathValue,
  parsePrefix,
  prefixHostRange,
  valueFromSortKey,
  valueSortKey,
} from '../../lib/values.js';

describe('IPv6 formatting follows RFC 5952', () => {
  test.each([
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:DB8::AB', '2001:db8::ab'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
  ])('%s → %s', (input, expected) => {
    const v = parseConfigValue('ipv6', input);
    expect(v.ok).toBe(true);
    if (v.ok) expect(formatIPv6(v.value)).toBe(expected);
  });
});

describe('value parsing', () => {
  test.each([
    ['integer', 2024500, 2024500n],
    ['integer', '2024500', 2024500n],
    ['integer', '0x2000000', 0x2000000n],
    ['integer', 0, 0n],
    ['integer', 9007199254740991n, 9007199254740991n],
    ['ipv4', '10.180.62.1', 0x0ab43e01n],
    ['ipv6', '2001:db8::1', 0x20010db8000000000000000000000001n],
  ] as const)('config %s %s', (type, raw, expected) => {
    expect(parseConfigValue(type, raw)).toEqual({ ok: true, value: expected });
  });

  test.each([
    ['integer', -1, /out of range/],
    ['integer', 2 ** 53, /out of range/],
    ['integer', 1.5, /not a whole number/],
    ['integer', '12a', /decimal digits .* 0x hex/],
    ['integer', '-5', /decimal digits/],
    ['integer', true, /TOML integer or a string/],
    ['ipv4', 167772161, /IPv4 address string/],
    ['ipv4', '10.0.0.256', /not an IPv4 address/],
    ['ipv4', '010.0.0.1', /not an IPv4 address/],
    ['ipv6', 'fe80::1%eth0', /not an IPv6 address/],
    ['ipv6', '10.0.0.1', /not an IPv6 address/],
  ] as const)('config %s %s is rejected', (type, raw, message) => {
    const r = parseConfigValue(type, raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  test('JSON values: numbers for integer pools, strings for IP pools, nothing else', () => {
    expect(parseJsonValue('integer', 5)).toEqual({ ok: true, value: 5n });
    expect(parseJsonValue('integer', '5').ok).toBe(false);
    expect(parseJsonValue('integer', 5.5).ok).toBe(false);
    expect(parseJsonValue('integer', Number(INTEGER_LIMIT)).ok).toBe(false);
    expect(parseJsonValue('ipv4', '10.0.0.1')).toEqual({ ok: true, value: 0x0a000001n });
    expect(parseJsonValue('ipv4', 167772161).ok).toBe(false);
  });

  test('URL path values', () => {
    expect(parsePathValue('integer', '2024731')).toEqual({ ok: true, value: 2024731n });
    expect(parsePathValue('integer', '0x10').ok).toBe(false);
    expect(parsePathValue('integer', '1e3').ok).toBe(false);
    expect(parsePathValue('ipv6', '2001:db8::5')).toEqual({ ok: true, value: 0x20010db8000000000000000000000005n });
  });
});

describe('prefixes', () => {
  test.each([
    ['ipv4', '10.180.62.0/24', 254n],
    ['ipv4', '10.180.62.0/26', 62n],
    ['ipv4', '10.180.62.0/28', 14n],
    ['ipv4', '10.180.62.0/30', 2n],
    ['ipv4', '10.180.62.0/31', 2n],
    ['ipv4', '10.180.62.7/32', 1n],
    ['ipv6', '2001:db8:0:1::/120', 255n],
    ['ipv6', '2001:db8::/127', 2n],
    ['ipv6', '2001:db8::7/128', 1n],
  ] as const)('%s %s holds %i values', (type, cidr, size) => {
    const p = parsePrefix(type, cidr);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    const hosts = prefixHostRange(type, p.value);
    expect(hosts.end - hosts.start).toBe(size);
  });

  test('IPv4 excludes network and broadcast, IPv6 the Subnet-Router anycast address only', () => {
    const v4 = parsePrefix('ipv4', '10.0.0.0/24');
    const v6 = parsePrefix('ipv6', '2001:db8::/120');
    if (!v4.ok || !v6.ok) throw new Error('parse failed');
    expect(prefixHostRange('ipv4', v4.value)).toEqual({ start: 0x0a000001n, end: 0x0a0000ffn });
    const h6 = prefixHostRange('ipv6', v6.value);
    expect(formatValue('ipv6', h6.start)).toBe('2001:db8::1');
    expect(formatValue('ipv6', h6.end - 1n)).toBe('2001:db8::ff');
  });

  test.each([
    ['ipv4', '10.0.0.1/24', 'host bits set; the canonical prefix is "10.0.0.0/24"'],
    ['ipv6', '2001:db8::1/64', 'canonical prefix is "2001:db8::/64"'],
    ['ipv4', '10.0.0.0/33', 'length 0-32'],
    ['ipv4', '10.0.0.0/024', 'has a prefix length with a leading zero ("/024"); write the length in plain decimal digits without leading zeros, 0-32, e.g. "10.0.0.0/24"'],
    ['ipv6', '2001:db8::/0064', 'leading zero ("/0064"); write the length in plain decimal digits without leading zeros, 0-128, e.g. "2001:db8::/64"'],
    ['ipv4', '10.0.0.0/00', 'leading zero'],
    ['ipv4', '10.0.0.0', 'not a CIDR prefix'],
    ['ipv4', '2001:db8::/64', 'not a valid IPv4 prefix'],
  ] as const)('%s %s is rejected', (type, cidr, message) => {
    const p = parsePrefix(type, cidr);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.message).toContain(message);
  });
});

describe('round trips (property)', () => {
  const types = {
    integer: fc.bigInt({ min: 0n, max: INTEGER_LIMIT - 1n }),
    ipv4: fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }),
    ipv6: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
  } as const;

  for (const [type, arb] of Object.entries(types) as [keyof typeof types, fc.Arbitrary<bigint>][]) {
    propTest.prop([arb])(`${type}: value → text → value`, (v) => {
      const shown = formatValue(type, v);
      const back = type === 'integer' ? parseJsonValue(type, shown) : parseConfigValue(type, shown);
      expect(back).toEqual({ ok: true, value: v });
      expect(parsePathValue(type, String(shown))).toEqual({ ok: true, value: v });
    });

    propTest.prop([arb, arb])(`${type}: sort keys order like the values`, (a, b) => {
      const ka = valueSortKey(type, a);
      const kb = valueSortKey(type, b);
      expect(ka.length).toBe(kb.length);
      expect(ka < kb).toBe(a < b);
      expect(ka === kb).toBe(a === b);
      expect(valueFromSortKey(ka)).toBe(a);
    });
  }
});

describe('addresses are read as ip-num reads them (the usual forms without it, for speed)', () => {
  /** What parseAddress answered when ip-num read every address. */
  function ipNum(type: 'ipv4' | 'ipv6', text: string): bigint | undefined {
    if (type === 'ipv4') return Validator.isValidIPv4String(text)[0] ? IPv4.fromString(text).value : undefined;
    return !text.includes('%') && Validator.isValidIPv6String(text)[0] ? IPv6.fromString(text).value : undefined;
  }
  function read(type: 'ipv4' | 'ipv6', text: string): bigint | undefined {
    const r = parseAddress(type, text);
    return r.ok ? r.value : undefined;
  }

  const hex = fc.constantFrom(...'0123456789abcdefABCDEF');
  const group = fc.oneof({ arbitrary: fc.string({ unit: hex, minLength: 1, maxLength: 4 }), weight: 20 }, fc.string({ unit: hex, minLength: 0, maxLength: 5 }));
  // Colon-separated groups with "::" (or ":::", or a stray ":") anywhere: the forms and their near misses.
  const v6 = fc
    .record({
      groups: fc.array(group, { maxLength: 9 }),
      gapAt: fc.option(fc.nat({ max: 9 }), { nil: undefined }),
      gap: fc.oneof({ arbitrary: fc.constant('::'), weight: 8 }, fc.constantFrom(':::', ':')),
      tail: fc.oneof({ arbitrary: fc.constant(''), weight: 12 }, fc.constantFrom(':', '.1', '1.2.3.4', ':10.0.0.1', '%eth0', ' ')),
    })
    .map(({ groups, gapAt, gap, tail }) => {
      if (gapAt === undefined || gapAt > groups.length) return groups.join(':') + tail;
      return `${groups.slice(0, gapAt).join(':')}${gap}${groups.slice(gapAt).join(':')}${tail}`;
    });
  const octet = fc.oneof(fc.nat({ max: 300 }).map(String), fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 4 }));
  const v4 = fc.oneof(
    fc.array(octet, { minLength: 3, maxLength: 5 }).map((parts) => parts.join('.')),
    fc.string({ unit: fc.constantFrom(...'0123456789.x '), maxLength: 16 }),
  );

  propTest.prop([v6], { numRuns: 3000 })('IPv6', (text) => {
    expect(read('ipv6', text)).toBe(ipNum('ipv6', text));
  });
  propTest.prop([fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg:.%'), maxLength: 45 })], { numRuns: 2000 })('IPv6, any text', (text) => {
    expect(read('ipv6', text)).toBe(ipNum('ipv6', text));
  });
  propTest.prop([fc.bigInt({ min: 0n, max: 2n ** 128n - 1n })])('IPv6, every form of a value', (v) => {
    const full = Array.from({ length: 8 }, (_, i) => ((v >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
    for (const text of [full.join(':'), full.map((g) => g.padStart(4, '0').toUpperCase()).join(':'), formatIPv6(v)]) {
      expect(read('ipv6', text)).toBe(v);
      expect(ipNum('ipv6', text)).toBe(v);
    }
  });
  propTest.prop([v4], { numRuns: 3000 })('IPv4', (text) => {
    expect(read('ipv4', text)).toBe(ipNum('ipv4', text));
  });
  test.each(['::', '::1', '1::', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8::', ':::', '1:::2', ':1::', '::ffff:10.0.0.1', '0.0.0.0', '255.255.255.255', '1.2.3.04'])(
    '%s',
    (text) => {
      for (const type of ['ipv4', 'ipv6'] as const) expect(read(type, text)).toBe(ipNum(type, text));
    },
  );
});
