// Identifier grammar (src/core/ids.ts; matrix-spec: appendices "User Identifiers", "Historical User
// IDs", "Server Name"): one lenient user-ID check for client requests and the auth rules alike.
import { isValidServerName, isValidUserId, normaliseNewLocalpart, parseUserId } from '../../src/core/ids.js';
import { MatrixError } from '../../src/errors.js';

describe('parseUserId / isValidUserId', () => {
  it('splits at the first colon; the domain may carry a port or be an IP literal', () => {
    expect(parseUserId('@bob:hs1')).toEqual({ localpart: 'bob', domain: 'hs1' });
    expect(parseUserId('@bob:hs1.example.org:8448')).toEqual({ localpart: 'bob', domain: 'hs1.example.org:8448' });
    expect(parseUserId('@bob:[::1]:8448')).toEqual({ localpart: 'bob', domain: '[::1]:8448' });
    expect(parseUserId('@bob:127.0.0.1')).toEqual({ localpart: 'bob', domain: '127.0.0.1' });
  });

  it('accepts historical localparts (the appendix asks servers to be lenient)', () => {
    expect(isValidUserId('@Historical User:hs1')).toBe(true);
    expect(isValidUserId('@ünïcode:hs1')).toBe(true);
  });

  it('refuses what is no user ID at all', () => {
    expect(isValidUserId('bob:hs1')).toBe(false);
    expect(isValidUserId('@bob')).toBe(false);
    expect(isValidUserId('@bob:')).toBe(false);
    expect(isValidUserId('@bob:bad host')).toBe(false);
    expect(isValidUserId('@nul\u0000:hs1')).toBe(false);
    expect(isValidUserId(42 as unknown as string)).toBe(false);
  });

  it('allows at most 255 bytes', () => {
    expect(isValidUserId(`@${'a'.repeat(250)}:hs1`)).toBe(true);
    expect(isValidUserId(`@${'a'.repeat(251)}:hs1`)).toBe(false);
  });
});

describe('isValidServerName', () => {
  it('takes host names, IPv4 and bracketed IPv6 literals, with an optional port', () => {
    for (const ok of ['example.org', 'localhost:8448', '1.2.3.4', '[1234:5678::abcd]', '[::1]:8448']) expect(isValidServerName(ok)).toBe(true);
    for (const bad of ['', 'bad host', 'a/b', '::1', 'host:port']) expect(isValidServerName(bad)).toBe(false);
  });
});

describe('normaliseNewLocalpart', () => {
  it('lower-cases and applies the strict grammar of new accounts', () => {
    expect(normaliseNewLocalpart('Alice', 'hs1')).toBe('alice');
    for (const bad of ['', 'a b', '1234', '_x', 'ünï']) {
      expect(() => normaliseNewLocalpart(bad, 'hs1')).toThrow(MatrixError);
    }
  });
});
