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
