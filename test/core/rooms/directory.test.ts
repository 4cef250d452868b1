// DirectoryService's answers about aliases (src/core/rooms/directory.ts): the servers a local alias
// names (this one first, then the other servers with joined members, most members first), another
// server's aliases through RemoteQueries, and resolveRoomIdOrAliasWithServers for joins.
import { buildConfig } from '../../../src/config.js';
import type { RemoteQueries } from '../../../src/core/federation/queries.js';
import { DirectoryService } from '../../../src/core/rooms/directory.js';
import type { RoomState, RoomStateService } from '../../../src/core/rooms/room-state.js';
import type { AliasRecord, RoomStore } from '../../../src/storage/types.js';
import type { StoredEvent } from '../../../src/wire.js';

const config = buildConfig({ server_name: 'here.test' });

/** A room whose current state has these memberships. */
function roomWith(members: Record<string, string>): RoomState {
  const state = new Map<string, StoredEvent>();
  for (const [userId, membership] of Object.entries(members)) {
    state.set(`m.room.member\u0000${userId}`, { type: 'm.room.member', state_key: userId, content: { membership } } as unknown as StoredEvent);
  }
  return { roomId: '!r:here.test', state } as unknown as RoomState;
}

function directory(room: RoomState | undefined, remote: Partial<RemoteQueries> = {}) {
  const aliases: Record<string, AliasRecord> = { '#lobby:here.test': { alias: '#lobby:here.test', roomId: '!r:here.test', creator: '@a:here.test' } };
  const store = { getAlias: async (alias: string) => aliases[alias] } as unknown as RoomStore;
  const roomState = { get: async () => room } as unknown as RoomStateService;
  const asked: string[] = [];
  const remoteQueries = {
    roomAlias: async (alias: string) => {
      asked.push(alias);
      return { room_id: '!far:there.test', servers: ['there.test', 'third.test'] };
    },
    publicRooms: async () => ({ chunk: [], total_room_count_estimate: 0 }),
    ...remote,
  };
  return { asked, service: new DirectoryService(config, store, roomState, remoteQueries) };
}

describe('DirectoryService', () => {
  it('names this server first, then the servers with joined members, most members first (not invited or left ones)', async () => {
    const { service } = directory(roomWith({
      '@a:here.test': 'join', '@b:there.test': 'join', '@c:busy.test': 'join', '@d:busy.test': 'join',
      '@e:invited.test': 'invite', '@f:gone.test': 'leave', '@g:aaa.test': 'join',
    }));
    expect(await service.resolveLocalAlias('#lobby:here.test')).toEqual({ room_id: '!r:here.test', servers: ['here.test', 'busy.test', 'aaa.test', 'there.test'] });
  });

  it('names this server even when none of its users is joined any more', async () => {
    const { service } = directory(roomWith({ '@a:here.test': 'leave', '@b:there.test': 'join' }));
    expect((await service.resolveAlias('#lobby:here.test')).servers).toEqual(['here.test', 'there.test']);
  });

  it('asks the alias\'s server for another server\'s alias', async () => {
    const { service, asked } = directory(roomWith({}));
    expect(await service.resolveAlias('#far:there.test')).toEqual({ room_id: '!far:there.test', servers: ['there.test', 'third.test'] });
    expect(asked).toEqual(['#far:there.test']);
  });

  it('resolveRoomIdOrAliasWithServers: an alias with its servers, local or remote; a room ID with none', async () => {
    const { service } = directory(roomWith({ '@a:here.test': 'join', '@b:there.test': 'join' }));
    expect(await service.resolveRoomIdOrAliasWithServers('#lobby:here.test')).toEqual({ roomId: '!r:here.test', servers: ['here.test', 'there.test'] });
    expect(await service.resolveRoomIdOrAliasWithServers('#far:there.test')).toEqual({ roomId: '!far:there.test', servers: ['there.test', 'third.test'] });
    expect(await service.resolveRoomIdOrAliasWithServers('!x:there.test')).toEqual({ roomId: '!x:there.test', servers: [] });
    expect(await service.resolveRoomIdOrAlias('#far:there.test')).toBe('!far:there.test');
    await expect(service.resolveRoomIdOrAliasWithServers('lobby')).rejects.toMatchObject({ status: 400, errcode: 'M_INVALID_PARAM' });
  });

  it('resolveLocalAlias refuses another server\'s alias with 400 M_INVALID_PARAM, without asking it', async () => {
    const { service, asked } = directory(roomWith({}));
    await expect(service.resolveLocalAlias('#far:there.test')).rejects.toMatchObject({ status: 400, errcode: 'M_INVALID_PARAM' });
    expect(asked).toEqual([]);
  });

  it('publicRoomsOf asks another server, refusing an invalid server name with 400 M_INVALID_PARAM', async () => {
    const servers: string[] = [];
    const { service } = directory(roomWith({}), { publicRooms: async (server) => { servers.push(server); return { chunk: [], total_room_count_estimate: 7 }; } });
    expect(await service.publicRoomsOf('there.test:8448', { limit: 3 })).toEqual({ chunk: [], total_room_count_estimate: 7 });
    expect(servers).toEqual(['there.test:8448']);
    await expect(service.publicRoomsOf('bad server!', {})).rejects.toMatchObject({ status: 400, errcode: 'M_INVALID_PARAM' });
    await expect(service.publicRoomsOf('there.test', { includeAllNetworks: true, thirdPartyInstanceId: 'irc' })).rejects.toMatchObject({ status: 400, errcode: 'M_INVALID_PARAM' });
    expect(servers).toEqual(['there.test:8448']);
  });
});
