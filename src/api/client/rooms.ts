// Room creation and membership (matrix-spec: create_room.yaml, joining.yaml, inviting.yaml,
// leaving.yaml, kicking.yaml, banning.yaml, knocking.yaml).
import { badJson, forbidden } from '../../errors.js';
import type { CreateRoomRequest, Preset } from '../../core/rooms/service.js';
import type { JsonObject } from '../../core/events/types.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optObject, optString, optStringArray, queryStrings, reqString, type Body } from '../../http/validate.js';
import type { Services } from '../../services.js';

const PRESETS: Preset[] = ['private_chat', 'public_chat', 'trusted_private_chat'];

function parseCreateRoom(b: Body): CreateRoomRequest {
  const visibility = optString(b, 'visibility');
  if (visibility !== undefined && visibility !== 'public' && visibility !== 'private') throw badJson("'visibility' must be 'public' or 'private'");
  const preset = optString(b, 'preset');
  if (preset !== undefined && !PRESETS.includes(preset as Preset)) throw badJson(`'preset' must be one of ${PRESETS.join(', ')}`);
  const initial = b.initial_state;
  let initialState: CreateRoomRequest['initial_state'];
  if (initial !== undefined && initial !== null) {
    if (!Array.isArray(initial)) throw badJson("'initial_state' must be a list");
    initialState = initial.map((e, i) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw badJson(`initial_state[${i}] must be an object`);
      const ev = e as Body;
      const type = optString(ev, 'type');
      if (type === undefined) throw badJson(`initial_state[${i}].type is required`);
      const content = optObject(ev, 'content');
      if (content === undefined) throw badJson(`initial_state[${i}].content is required`);
      return { type, state_key: optString(ev, 'state_key') ?? '', content: content as JsonObject };
    });
  }
  const req: CreateRoomRequest = {};
  if (visibility !== undefined) req.visibility = visibility as 'public' | 'private';
  const alias = optString(b, 'room_alias_name');
  if (alias !== undefined) req.room_alias_name = alias;
  const name = optString(b, 'name');
  if (name !== undefined) req.name = name;
  const topic = optString(b, 'topic');
  if (topic !== undefined) req.topic = topic;
  const invite = optStringArray(b, 'invite');
  if (invite !== undefined) req.invite = invite;
  const version = optString(b, 'room_version');
  if (version !== undefined) req.room_version = version;
  const creation = optObject(b, 'creation_content');
  if (creation !== undefined) req.creation_content = creation as JsonObject;
  if (initialState !== undefined) req.initial_state = initialState;
  if (preset !== undefined) req.preset = preset as Preset;
  const direct = optBool(b, 'is_direct');
  if (direct !== undefined) req.is_direct = direct;
  const pl = optObject(b, 'power_level_content_override');
  if (pl !== undefined) req.power_level_content_override = pl as JsonObject;
  if (b.invite_3pid !== undefined && !(Array.isArray(b.invite_3pid) && b.invite_3pid.length === 0)) {
    throw forbidden('Third-party invites are not supported');
  }
  return req;
}

export function roomRoutes(services: Services): RouteDef[] {
  const { rooms, directory } = services;
  const reasonOf = (req: { body: unknown }) => optString(objectBody(req.body), 'reason');
  return [
    {
      // POST /_matrix/client/v3/createRoom (matrix-spec: create_room.yaml#createRoom)
      method: 'post', path: '/v3/createRoom', r0: true,
      handler: async (req, res) => {
        const roomId = await rooms.createRoom(authOf(res), parseCreateRoom(objectBody(req.body)), directory);
        res.json({ room_id: roomId });
      },
    },
    {
      // POST /_matrix/client/v3/rooms/{roomId}/join (matrix-spec: joining.yaml#joinRoomById)
      method: 'post', path: '/v3/rooms/:roomId/join', r0: true, guest: true,
      handler: async (req, res) => {
        const roomId = req.params.roomId as string;
        await rooms.join(authOf(res), roomId, reasonOf(req));
        res.json({ room_id: roomId });
      },
    },
    {
      // POST /_matrix/client/v3/join/{roomIdOrAlias} (matrix-spec: joining.yaml#joinRoom)
      method: 'post', path: '/v3/join/:roomIdOrAlias', r0: true, guest: true,
      handler: async (req, res) => {
        const { roomId, servers: aliasServers } = await directory.resolveRoomIdOrAliasWithServers(req.params.roomIdOrAlias as string);
        // Servers to join through when this server is not in the room: `via` (and the older
        // `server_name`), then those an alias's answer names.
        const servers = [...queryStrings(req.query, 'via'), ...queryStrings(req.query, 'server_name'), ...aliasServers];
        await rooms.join(authOf(res), roomId, reasonOf(req), servers);
        res.json({ room_id: roomId });
      },
    },
    {
      // POST /_matrix/client/v3/knock/{roomIdOrAlias} (matrix-spec: knocking.yaml#knockRoom)
      method: 'post', path: '/v3/knock/:roomIdOrAlias',
      handler: async (req, res) => {
        // Knocking is local only: `via` / `server_name` are not used (no make_knock / send_knock yet).
        const roomId = await directory.resolveRoomIdOrAlias(req.params.roomIdOrAlias as string);
        await rooms.knock(authOf(res), roomId, reasonOf(req));
        res.json({ room_id: roomId });
      },
    },
    {
      // POST /_matrix/client/v3/rooms/{roomId}/invite (matrix-spec: inviting.yaml#inviteUser)
      method: 'post', path: '/v3/rooms/:roomId/invite', r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        await rooms.invite(authOf(res), req.params.roomId as string, reqString(b, 'user_id'), optString(b, 'reason'));
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/rooms/{roomId}/leave (matrix-spec: leaving.yaml#leaveRoom)
      method: 'post', path: '/v3/rooms/:roomId/leave', r0: true, guest: true,
      handler: async (req, res) => {
        await rooms.leave(authOf(res), req.params.roomId as string, reasonOf(req));
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/rooms/{roomId}/forget (matrix-spec: leaving.yaml#forgetRoom)
      method: 'post', path: '/v3/rooms/:roomId/forget', r0: true, guest: true,
      handler: async (req, res) => {
        await rooms.forget(authOf(res), req.params.roomId as string);
        res.json({});
      },
    },
    ...(['kick', 'ban', 'unban'] as const).map((action): RouteDef => ({
      // POST /_matrix/client/v3/rooms/{roomId}/kick (matrix-spec: kicking.yaml#kick)
      // POST /_matrix/client/v3/rooms/{roomId}/ban (matrix-spec: banning.yaml#ban)
      // POST /_matrix/client/v3/rooms/{roomId}/unban (matrix-spec: banning.yaml#unban)
      method: 'post', path: `/v3/rooms/:roomId/${action}`, r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        await rooms.setOtherMembership(authOf(res), req.params.roomId as string, reqString(b, 'user_id'), action, optString(b, 'reason'));
        res.json({});
      },
    })),
  ];
}
