// End-to-end encryption keys (matrix-spec: keys.yaml, cross_signing.yaml) and server-side key backups
// (key_backup.yaml). /keys/upload, query, claim and changes existed in r0; cross-signing and key
// backups came with v1.1 (no r0 alias).
import { parseClaimQuery, parseDeviceKeysQuery } from '../../core/e2ee/keys.js';
import { parseKeyBackupData, parseRoomBody, parseRoomKeysBody } from '../../core/e2ee/backup.js';
import { parseSyncToken } from '../../core/tokens.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optInt, queryString } from '../../http/validate.js';
import { missingParam } from '../../errors.js';
import type { Services } from '../../services.js';
import type { JsonObject } from '../../wire.js';

export function keyRoutes(services: Services): RouteDef[] {
  const { keys } = services;
  return [
    {
      // POST /_matrix/client/v3/keys/upload (matrix-spec: keys.yaml#uploadKeys)
      method: 'post', path: '/v3/keys/upload', r0: true, guest: true,
      handler: async (req, res) => {
        res.json(await keys.upload(authOf(res), objectBody(req.body) as JsonObject));
      },
    },
    {
      // POST /_matrix/client/v3/keys/query (matrix-spec: keys.yaml#queryKeys)
      method: 'post', path: '/v3/keys/query', r0: true, guest: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        if (b.device_keys === undefined) throw missingParam("'device_keys' is required");
        res.json(await keys.query(authOf(res), parseDeviceKeysQuery(b.device_keys), optInt(b, 'timeout')));
      },
    },
    {
      // POST /_matrix/client/v3/keys/claim (matrix-spec: keys.yaml#claimKeys)
      method: 'post', path: '/v3/keys/claim', r0: true, guest: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        if (b.one_time_keys === undefined) throw missingParam("'one_time_keys' is required");
        res.json(await keys.claim(parseClaimQuery(b.one_time_keys), optInt(b, 'timeout')));
      },
    },
    {
      // GET /_matrix/client/v3/keys/changes (matrix-spec: keys.yaml#getKeysChanges)
      method: 'get', path: '/v3/keys/changes', r0: true,
      handler: async (req, res) => {
        const from = queryString(req.query, 'from');
        const to = queryString(req.query, 'to');
        if (from === undefined) throw missingParam("The 'from' query parameter is required");
        if (to === undefined) throw missingParam("The 'to' query parameter is required");
        res.json(await keys.changes(authOf(res), parseSyncToken(from, 'from').position, parseSyncToken(to, 'to').position));
      },
    },
    {
      // POST /_matrix/client/v3/keys/device_signing/upload (matrix-spec: cross_signing.yaml#uploadCrossSigningKeys)
      method: 'post', path: '/v3/keys/device_signing/upload',
      handler: async (req, res) => {
        await keys.uploadCrossSigningKeys(authOf(res), objectBody(req.body) as JsonObject);
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/keys/signatures/upload (matrix-spec: cross_signing.yaml#uploadCrossSigningSignatures)
      method: 'post', path: '/v3/keys/signatures/upload',
      handler: async (req, res) => {
        res.json(await keys.uploadSignatures(authOf(res), objectBody(req.body) as JsonObject));
      },
    },
  ];
}

export function keyBackupRoutes(services: Services): RouteDef[] {
  const { keyBackup } = services;
  const version = (req: { query: unknown }) => queryString(req.query, 'version');
  const param = (req: { params: Record<string, unknown> }, name: string) => req.params[name] as string;
  return [
    {
      // POST /_matrix/client/v3/room_keys/version (matrix-spec: key_backup.yaml#postRoomKeysVersion)
      method: 'post', path: '/v3/room_keys/version',
      handler: async (req, res) => {
        res.json(await keyBackup.create(authOf(res).userId, objectBody(req.body) as JsonObject));
      },
    },
    {
      // GET /_matrix/client/v3/room_keys/version (matrix-spec: key_backup.yaml#getRoomKeysVersionCurrent)
      method: 'get', path: '/v3/room_keys/version',
      handler: async (_req, res) => {
        res.json(await keyBackup.get(authOf(res).userId));
      },
    },
    {
      // GET /_matrix/client/v3/room_keys/version/{version} (matrix-spec: key_backup.yaml#getRoomKeysVersion)
      method: 'get', path: '/v3/room_keys/version/:version',
      handler: async (req, res) => {
        res.json(await keyBackup.get(authOf(res).userId, param(req, 'version')));
      },
    },
    {
      // PUT /_matrix/client/v3/room_keys/version/{version} (matrix-spec: key_backup.yaml#putRoomKeysVersion)
      method: 'put', path: '/v3/room_keys/version/:version',
      handler: async (req, res) => {
        await keyBackup.update(authOf(res).userId, param(req, 'version'), objectBody(req.body) as JsonObject);
        res.json({});
      },
    },
    {
      // DELETE /_matrix/client/v3/room_keys/version/{version} (matrix-spec: key_backup.yaml#deleteRoomKeysVersion)
      method: 'delete', path: '/v3/room_keys/version/:version',
      handler: async (req, res) => {
        await keyBackup.delete(authOf(res).userId, param(req, 'version'));
        res.json({});
      },
    },
    {
      // PUT /_matrix/client/v3/room_keys/keys (matrix-spec: key_backup.yaml#putRoomKeys)
      method: 'put', path: '/v3/room_keys/keys',
      handler: async (req, res) => {
        res.json(await keyBackup.putKeys(authOf(res).userId, version(req), parseRoomKeysBody(objectBody(req.body) as JsonObject)));
      },
    },
    {
      // GET /_matrix/client/v3/room_keys/keys (matrix-spec: key_backup.yaml#getRoomKeys)
      method: 'get', path: '/v3/room_keys/keys',
      handler: async (req, res) => {
        res.json(await keyBackup.getAll(authOf(res).userId, version(req)));
      },
    },
    {
      // DELETE /_matrix/client/v3/room_keys/keys (matrix-spec: key_backup.yaml#deleteRoomKeys)
      method: 'delete', path: '/v3/room_keys/keys',
      handler: async (req, res) => {
        res.json(await keyBackup.deleteKeys(authOf(res).userId, version(req)));
      },
    },
    {
      // PUT /_matrix/client/v3/room_keys/keys/{roomId} (matrix-spec: key_backup.yaml#putRoomKeysByRoomId)
      method: 'put', path: '/v3/room_keys/keys/:roomId',
      handler: async (req, res) => {
        res.json(await keyBackup.putKeys(authOf(res).userId, version(req), parseRoomBody(objectBody(req.body), param(req, 'roomId'))));
      },
    },
    {
      // GET /_matrix/client/v3/room_keys/keys/{roomId} (matrix-spec: key_backup.yaml#getRoomKeysByRoomId)
      method: 'get', path: '/v3/room_keys/keys/:roomId',
      handler: async (req, res) => {
        res.json(await keyBackup.getRoom(authOf(res).userId, version(req), param(req, 'roomId')));
      },
    },
    {
      // DELETE /_matrix/client/v3/room_keys/keys/{roomId} (matrix-spec: key_backup.yaml#deleteRoomKeysByRoomId)
      method: 'delete', path: '/v3/room_keys/keys/:roomId',
      handler: async (req, res) => {
        res.json(await keyBackup.deleteKeys(authOf(res).userId, version(req), param(req, 'roomId')));
      },
    },
    {
      // PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} (matrix-spec: key_backup.yaml#putRoomKeyBySessionId)
      method: 'put', path: '/v3/room_keys/keys/:roomId/:sessionId',
      handler: async (req, res) => {
        const key = parseKeyBackupData(objectBody(req.body), param(req, 'roomId'), param(req, 'sessionId'));
        res.json(await keyBackup.putKeys(authOf(res).userId, version(req), [key]));
      },
    },
    {
      // GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} (matrix-spec: key_backup.yaml#getRoomKeyBySessionId)
      method: 'get', path: '/v3/room_keys/keys/:roomId/:sessionId',
      handler: async (req, res) => {
        res.json(await keyBackup.getSession(authOf(res).userId, version(req), param(req, 'roomId'), param(req, 'sessionId')));
      },
    },
    {
      // DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} (matrix-spec: key_backup.yaml#deleteRoomKeyBySessionId)
      method: 'delete', path: '/v3/room_keys/keys/:roomId/:sessionId',
      handler: async (req, res) => {
        res.json(await keyBackup.deleteKeys(authOf(res).userId, version(req), param(req, 'roomId'), param(req, 'sessionId')));
      },
    },
  ];
}
