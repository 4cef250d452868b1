// Server ACLs (matrix-spec: client-server-api "Server Access Control Lists (ACLs) for rooms"): the
// spec's order of checks, glob matching, ports, IP literals; and the helpers of the room protocol
// that pick servers and order fetched events.
import { hostOf, serverAllowedByAcl } from '../../../src/core/federation/acl.js';
import { candidateServers, remoteFailure } from '../../../src/core/federation/membership.js';
import { topologicalOrder } from '../../../src/core/federation/remote-events.js';
import { FederationError } from '../../../src/core/federation/client.js';

describe('serverAllowedByAcl', () => {
  it('no ACL: every server takes part', () => {
    expect(serverAllowedByAcl(undefined, 'evil.example')).toBe(true);
  });

  it('"If the server name is an IP address and allow_ip_literals is false, deny" (IPv4, IPv6 in brackets, with ports)', () => {
    const acl = { allow: ['*'], allow_ip_literals: false };
    expect(serverAllowedByAcl(acl, '1.2.3.4')).toBe(false);
    expect(serverAllowedByAcl(acl, '1.2.3.4:8448')).toBe(false);
    expect(serverAllowedByAcl(acl, '[::1]:8448')).toBe(false);
    expect(serverAllowedByAcl(acl, 'example.org')).toBe(true);
    // allow_ip_literals defaults to true.
    expect(serverAllowedByAcl({ allow: ['*'] }, '1.2.3.4')).toBe(true);
  });

  it('deny wins over allow; no allow match denies; an empty allow list denies everyone', () => {
    const acl = { allow: ['*.example.org', 'example.org'], deny: ['bad.example.org'] };
    expect(serverAllowedByAcl(acl, 'bad.example.org')).toBe(false);
    expect(serverAllowedByAcl(acl, 'good.example.org')).toBe(true);
    expect(serverAllowedByAcl(acl, 'example.org')).toBe(true);
    expect(serverAllowedByAcl(acl, 'example.com')).toBe(false);
    expect(serverAllowedByAcl({ deny: [] }, 'example.com')).toBe(false);
  });

  it('globs: * any run, ? one character, everything else literal (dots are not wildcards), case-insensitive, ports ignored', () => {
    expect(serverAllowedByAcl({ allow: ['ex?mple.org'] }, 'example.org')).toBe(true);
    expect(serverAllowedByAcl({ allow: ['ex?mple.org'] }, 'exmple.org')).toBe(false);
    expect(serverAllowedByAcl({ allow: ['example.org'] }, 'exampleXorg')).toBe(false);
    expect(serverAllowedByAcl({ allow: ['EXAMPLE.org'] }, 'example.ORG:8448')).toBe(true);
    expect(serverAllowedByAcl({ allow: ['*'], deny: ['*.evil.*'] }, 'a.evil.net')).toBe(false);
    // Entries that are not strings are ignored.
    expect(serverAllowedByAcl({ allow: [42, '*'] as never }, 'x.org')).toBe(true);
  });

  it('hostOf strips the port, keeping IPv6 brackets', () => {
    expect(hostOf('example.org:8448')).toBe('example.org');
    expect(hostOf('[2001:db8::1]:8448')).toBe('[2001:db8::1]');
    expect(hostOf('example.org')).toBe('example.org');
  });
});

describe('the room protocol\'s helpers', () => {
  it('candidateServers: those given, then the room ID\'s own, without this one and without repeats', () => {
    expect(candidateServers('!a:one.org', ['two.org', 'one.org', 'me.org'], 'me.org')).toEqual(['two.org', 'one.org']);
    // Room version 12: no server in the room ID.
    expect(candidateServers('!abcdef', [], 'me.org')).toEqual([]);
  });

  it('remoteFailure: a remote\'s own 4xx Matrix error passes through, anything else is a 502 naming the server', () => {
    const refused = remoteFailure(new FederationError('one.org', 'http', 'x', 403, 'M_FORBIDDEN', { errcode: 'M_FORBIDDEN', error: 'You are banned' }), 'Joining');
    expect({ status: refused.status, errcode: refused.errcode }).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    expect(refused.message).toContain('You are banned');
    const version = remoteFailure(new FederationError('one.org', 'http', 'x', 400, 'M_INCOMPATIBLE_ROOM_VERSION', { errcode: 'M_INCOMPATIBLE_ROOM_VERSION', room_version: '99' }), 'Joining');
    expect(version.extra).toEqual({ room_version: '99' });
    const down = remoteFailure(new FederationError('one.org', 'network', 'ECONNREFUSED'), 'Joining');
    expect({ status: down.status, errcode: down.errcode }).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
    const slow = remoteFailure(new FederationError('one.org', 'timeout', 'slow'), 'Joining');
    expect(slow.status).toBe(504);
    const server500 = remoteFailure(new FederationError('one.org', 'http', 'x', 500, 'M_UNKNOWN', {}), 'Joining');
    expect(server500.status).toBe(502);
  });

  it('topologicalOrder: each event after the events of the set it names (auth and prev), then by depth; duplicates once', () => {
    const e = (id: string, depth: number, prev: string[] = [], auth: string[] = []) => ({ eventId: id, pdu: { depth, prev_events: prev, auth_events: auth } });
    const create = e('$create', 1);
    const join = e('$join', 2, ['$create'], ['$create']);
    const pl = e('$pl', 3, ['$join'], ['$create', '$join']);
    // A lying depth does not put an event before what it names.
    const msg = e('$msg', 1, ['$pl'], ['$create', '$pl', '$join']);
    const order = topologicalOrder([msg, pl, join, create, pl]).map((x) => x.eventId);
    expect(order).toEqual(['$create', '$join', '$pl', '$msg']);
  });
});
