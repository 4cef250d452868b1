import { canonicalJson, canonicalJsonBytes, CanonicalJsonError } from '../../../src/core/crypto/canonical-json.js';

describe('canonicalJson', () => {
  // Every example of matrix-spec content/appendices.md "Canonical JSON" > "Examples" (input as given
  // there, parsed with JSON.parse, and the expected output).
  const SPEC_EXAMPLES: Array<[string, string]> = [
    ['{}', '{}'],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`,
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
    ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
    ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
    ['{\n    "a": null\n}', '{"a":null}'],
    ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
  ];

  it.each(SPEC_EXAMPLES)('encodes spec example %#', (input, expected) => {
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });

  it('encodes non-ASCII as raw UTF-8 bytes', () => {
    expect([...canonicalJsonBytes({ a: '日' })]).toEqual([...Buffer.from('{"a":"', 'ascii'), 0xe6, 0x97, 0xa5, ...Buffer.from('"}', 'ascii')]);
  });

  it('uses only the escapes of the grammar (appendices "Grammar")', () => {
    // Dedicated escapes, lowercase \u00XX for the other ASCII control characters, nothing else escaped
    // (not DEL, not "/", not U+2028, not astral characters). Cross-checked with the spec's Python
    // reference (json.dumps(ensure_ascii=False, separators=(',',':'), sort_keys=True)).
    const s = '\u0000\u0001\u000b\u000e\u001f\b\t\n\f\r"\\/\u007f\u2028é😀';
    expect(canonicalJson(s)).toBe('"\\u0000\\u0001\\u000b\\u000e\\u001f\\b\\t\\n\\f\\r\\"\\\\/\u007f\u2028é😀"');
    expect(canonicalJson({ 'k\n"': 1 })).toBe('{"k\\n\\"":1}');
  });

  it('sorts keys by Unicode code point, not UTF-16 code unit', () => {
    // U+FFFF < U+1F600 by code point; by UTF-16 code unit 0xD83D would sort before 0xFFFF.
    expect(canonicalJson({ '😀': 2, '\uffff': 1, a: 0, B: 3, '': 4 })).toBe('{"":4,"B":3,"a":0,"\uffff":1,"😀":2}');
  });

  it('orders non-BMP keys by code point: U+FFFF before U+1F600, both after "a"', () => {
    expect(canonicalJson({ '\u{1F600}': 1, '\uFFFF': 2, a: 3 })).toBe('{"a":3,"\uFFFF":2,"\u{1F600}":1}');
    expect(canonicalJson({ a: 3, '\uFFFF': 2, '\u{1F600}': 1 })).toBe('{"a":3,"\uFFFF":2,"\u{1F600}":1}');
    // Keys sharing a prefix, a high surrogate, or differing only after an astral character.
    expect(canonicalJson({ 'x\u{1F601}': 1, 'x\u{1F600}y': 2, 'x\uE000': 3, 'x\u{1F600}': 4, x: 5, 'x\u{10000}': 6 })).toBe(
      '{"x":5,"x\uE000":3,"x\u{10000}":6,"x\u{1F600}":4,"x\u{1F600}y":2,"x\u{1F601}":1}',
    );
  });

  it('matches the straightforward reference encoder on random input', () => {
    // The former implementation: spread-based code point comparison, entries/filter/sort/map/join.
    const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    const refString = (s: string): string => {
      if (lone.test(s)) throw new CanonicalJsonError('String contains a lone surrogate');
      return JSON.stringify(s);
    };
    const refCompare = (a: string, b: string): number => {
      const x = [...a];
      const y = [...b];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
        if (d !== 0) return d;
      }
      return x.length - y.length;
    };
    const ref = (value: unknown): string => {
      if (typeof value === 'string') return refString(value);
      if (typeof value === 'number' || typeof value === 'boolean' || value === null) return canonicalJson(value);
      if (Array.isArray(value)) return `[${value.map(ref).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => refCompare(a, b));
      return `{${entries.map(([k, v]) => `${refString(k)}:${ref(v)}`).join(',')}}`;
    };
    const outcome = (f: () => string): string => {
      try {
        return `ok ${f()}`;
      } catch (e) {
        return `${(e as Error).name} ${(e as Error).message}`;
      }
    };

    // Deterministic PRNG (mulberry32).
    let seed = 0x5eed;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const UNITS = ['a', 'b', 'A', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', 'é', '\u2028', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{1F601}', '\u{10FFFF}'];
    const rareLone = ['\uD83D', '\uDE00'];
    const str = (allowLone: boolean): string => {
      let s = '';
      const n = Math.floor(rand() * 4);
      for (let i = 0; i < n; i++) {
        s += allowLone && rand() < 0.05 ? rareLone[Math.floor(rand() * 2)]! : UNITS[Math.floor(rand() * UNITS.length)]!;
      }
      return s;
    };
    const gen = (depth: number, allowLone: boolean): unknown => {
      const r = rand();
      if (depth > 2 || r < 0.3) {
        const p = rand();
        if (p < 0.4) return str(allowLone);
        if (p < 0.6) return Math.floor(rand() * 2000) - 1000;
        if (p < 0.65) return -0;
        if (p < 0.7) return allowLone ? 0.5 : 1;
        if (p < 0.8) return rand() < 0.5;
        return null;
      }
      if (r < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth + 1, allowLone));
      const obj: Record<string, unknown> = {};
      const n = Math.floor(rand() * 8);
      for (let i = 0; i < n; i++) obj[str(allowLone)] = rand() < 0.1 ? undefined : gen(depth + 1, allowLone);
      return obj;
    };

    // Which error comes first follows the key order, also around lone surrogates: a pair sorts after
    // a lone copy of its high surrogate whatever follows that (here U+FFFF, above the low surrogate).
    for (const value of [
      { '\uD83D\uDE00': 0.5, '\uD83D\uFFFF': 1 },
      { '\uD83D\uFFFF': 1, '\uD83D\uDE00': 0.5 },
      { '\uD83D\uDE00': 1, '\uD83D': 0.5 },
      { a: 0.5, '\uDE00': 1, '\uD83D\uDE00': 2 },
    ]) {
      expect(outcome(() => canonicalJson(value))).toBe(outcome(() => ref(value)));
    }
    expect(outcome(() => canonicalJson({ '\uD83D\uDE00': 0.5, '\uD83D\uFFFF': 1 }))).toMatch(/lone surrogate/);

    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const value = gen(0, i % 3 === 0);
      const expected = outcome(() => ref(value));
      expect(outcome(() => canonicalJson(value))).toBe(expected);
      if (expected.startsWith('ok ')) accepted++;
    }
    expect(accepted).toBeGreaterThan(1000);
  });

  it('sorts nested objects and keeps array order', () => {
    expect(canonicalJson({ z: [3, 1, { y: true, x: false }], a: { d: [], c: {} } })).toBe(
      '{"a":{"c":{},"d":[]},"z":[3,1,{"x":false,"y":true}]}',
    );
  });

  it('accepts the integer range [-(2**53)+1, (2**53)-1] without exponents', () => {
    expect(canonicalJson([9007199254740991, -9007199254740991, 0, -1, 1e15])).toBe(
      '[9007199254740991,-9007199254740991,0,-1,1000000000000000]',
    );
  });

  it.each([
    ['a float', 1.5],
    ['a float in an object', { a: 0.1 }],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['2**53', 2 ** 53],
    ['-(2**53)', -(2 ** 53)],
    ['1e20', 1e20],
    ['a bigint', 1n],
    ['undefined', undefined],
    ['a function', () => 1],
    ['a Map', new Map()],
    ['a Date', new Date(0)],
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate in a key', { '\udc00': 1 }],
  ])('rejects %s', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
  });

  it('omits properties whose value is undefined, as JSON.stringify does', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });
});
