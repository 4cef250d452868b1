// X-Matrix request signatures (matrix-spec: server-server-api "Request Authentication"): the header
// grammar (RFC 9110 auth-params, quoted and unquoted values, colons unquoted for older servers) and
// a sign/parse/verify round trip.
import { SigningKey, verifyJsonSignature } from '../../../src/core/crypto/signing.js';
import { parseXMatrix, requestJson, signRequest, XMatrixParseError } from '../../../src/core/federation/x-matrix.js';

describe('parseXMatrix', () => {
  it('reads the header the spec shows', () => {
    expect(parseXMatrix('X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."')).toEqual({
      origin: 'origin.hs.example.com', destination: 'destination.hs.example.com', key: 'ed25519:key1', sig: 'ABCDEF...',
    });
  });

  it('takes unquoted values, colons included, in any order and case, with spaces and tabs around commas', () => {
    expect(parseXMatrix('x-matrix   Sig=abc+/d , KEY=ed25519:k1,\torigin=localhost:8448 ,destination="b.example"')).toEqual({
      origin: 'localhost:8448', destination: 'b.example', key: 'ed25519:k1', sig: 'abc+/d',
    });
  });

  it('unescapes backslash pairs in quoted values and ignores unknown parameters', () => {
    expect(parseXMatrix('X-Matrix origin="a\\.example",key="ed25519:\\"k",sig="s",future="x, y"')).toEqual({ origin: 'a.example', key: 'ed25519:"k', sig: 's' });
  });

  it('accepts a request without destination (servers older than v1.3)', () => {
    expect(parseXMatrix('X-Matrix origin=a.example,key="ed25519:k",sig="s"')).toEqual({ origin: 'a.example', key: 'ed25519:k', sig: 's' });
  });

  it('leaves other schemes alone', () => {
    expect(parseXMatrix('Bearer abc')).toBeUndefined();
    expect(parseXMatrix('X-Matrixorigin=a')).toBeUndefined();
  });

  it.each([
    ['X-Matrix origin="a.example",key="ed25519:k"', /needs origin, key and sig/],
    ['X-Matrix origin="a.example,key="ed25519:k",sig="s"', /Expected a comma|Unterminated|Unexpected/],
    ['X-Matrix origin="a.example" key="ed25519:k",sig="s"', /Expected a comma/],
    ['X-Matrix origin=,key="ed25519:k",sig="s"', /empty value/],
    ['X-Matrix origin="a",origin="b",key="k",sig="s"', /given twice/],
    ['X-Matrix origin', /has no value/],
    ['X-Matrix origin="a.example",key="ed25519:k",sig="s', /Unterminated/],
  ])('refuses %j', (header, message) => {
    expect(() => parseXMatrix(header)).toThrow(XMatrixParseError);
    expect(() => parseXMatrix(header)).toThrow(message);
  });
});

describe('signRequest', () => {
  const key = SigningKey.generate();

  it('writes the header as the spec asks senders to, and it parses back to a signature that verifies', () => {
    const json = requestJson('put', '/_matrix/federation/v1/send/abc?x=%2F', 'a.example:8448', 'b.example', { pdus: [], origin: 'a.example:8448' });
    const header = signRequest(json, key);
    expect(header).toMatch(/^X-Matrix origin="a\.example:8448",destination="b\.example",key="ed25519:[A-Za-z0-9]+",sig="[A-Za-z0-9+/]+"$/);
    const creds = parseXMatrix(header)!;
    expect(creds.key).toBe(key.keyId);
    const signed = { ...json, signatures: { [creds.origin]: { [creds.key]: creds.sig } } };
    expect(json.method).toBe('PUT');
    expect(verifyJsonSignature(signed, 'a.example:8448', key.keyId, key.publicKeyBase64)).toBe(true);
    expect(verifyJsonSignature({ ...signed, uri: '/_matrix/federation/v1/send/abc?x=/' }, 'a.example:8448', key.keyId, key.publicKeyBase64)).toBe(false);
    expect(verifyJsonSignature({ ...signed, destination: 'c.example' }, 'a.example:8448', key.keyId, key.publicKeyBase64)).toBe(false);
  });

  it('signs no content key for requests without a body', () => {
    const json = requestJson('GET', '/_matrix/key/v2/server', 'a', 'b');
    expect(Object.keys(json).sort()).toEqual(['destination', 'method', 'origin', 'uri']);
  });
});
