import { decodeBase64, encodeBase64, encodeBase64Url } from '../../../src/core/crypto/base64.js';

// Examples from matrix-spec content/appendices.md "Unpadded Base64".
const EXAMPLES: Array<[string, string]> = [
  ['', ''],
  ['f', 'Zg'],
  ['fo', 'Zm8'],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg'],
  ['fooba', 'Zm9vYmE'],
  ['foobar', 'Zm9vYmFy'],
];

describe('unpadded base64', () => {
  it.each(EXAMPLES)('encodes %j as %j', (plain, encoded) => {
    expect(encodeBase64(Buffer.from(plain))).toBe(encoded);
    expect(decodeBase64(encoded).toString()).toBe(plain);
  });

  it('accepts padded input', () => {
    expect(decodeBase64('Zg==').toString()).toBe('f');
    expect(decodeBase64('Zm8=').toString()).toBe('fo');
  });

  it('encodes a sub-view of a buffer without its neighbours', () => {
    const whole = Buffer.from('xxfooxx');
    expect(encodeBase64(whole.subarray(2, 5))).toBe('Zm9v');
    expect(encodeBase64Url(new Uint8Array(whole.buffer, whole.byteOffset + 2, 3))).toBe('Zm9v');
  });

  it('uses - and _ in the URL-safe alphabet and accepts both alphabets when decoding', () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf]);
    expect(encodeBase64(bytes)).toBe('+/+/');
    expect(encodeBase64Url(bytes)).toBe('-_-_');
    expect(encodeBase64Url(Buffer.from([0xfb, 0xf0]))).toBe('-_A');
    expect([...decodeBase64('-_-_')]).toEqual([0xfb, 0xff, 0xbf]);
    expect([...decodeBase64('+/+/')]).toEqual([0xfb, 0xff, 0xbf]);
  });

  it('rejects malformed input', () => {
    expect(() => decodeBase64('Zm9v!')).toThrow('Invalid base64');
    expect(() => decodeBase64('Z')).toThrow('Invalid base64');
    expect(() => decodeBase64('Zg=')).toThrow('Invalid base64');
    expect(() => decodeBase64('Zm9v Yg')).toThrow('Invalid base64');
  });
});
