// Device management (matrix-spec: device_management.yaml).
import { badJson } from '../../errors.js';
import type { Device } from '../../core/accounts/devices.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optObject, optStringArray } from '../../http/validate.js';
import type { Services } from '../../services.js';

/**
 * Client format of a device (device_management.yaml "Device"). Every key is present, null when
 * unknown: the spec says "absent", but Synapse sends null and matrix-nio's Devices schema requires
 * the keys (a device without a name or a last-seen time would fail the whole list there).
 */
export function deviceJson(d: Device): Record<string, unknown> {
  return { device_id: d.deviceId, display_name: d.displayName, last_seen_ip: d.lastSeenIp, last_seen_ts: d.lastSeenTs };
}

export function deviceRoutes(services: Services): RouteDef[] {
  const { devices } = services;
  return [
    {
      // GET /_matrix/client/v3/devices (matrix-spec: device_management.yaml#getDevices)
      method: 'get', path: '/v3/devices', r0: true, guest: true,
      handler: async (_req, res) => {
        const list = await devices.list(authOf(res).userId);
        res.json({ devices: list.map(deviceJson) });
      },
    },
    {
      // GET /_matrix/client/v3/devices/{deviceId} (matrix-spec: device_management.yaml#getDevice)
      method: 'get', path: '/v3/devices/:deviceId', r0: true, guest: true,
      handler: async (req, res) => {
        res.json(deviceJson(await devices.get(authOf(res).userId, req.params.deviceId as string)));
      },
    },
    {
      // PUT /_matrix/client/v3/devices/{deviceId} (matrix-spec: device_management.yaml#updateDevice)
      method: 'put', path: '/v3/devices/:deviceId', r0: true, guest: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const name = b.display_name;
        if (name !== undefined && name !== null && typeof name !== 'string') throw badJson("'display_name' must be a string");
        if (name !== undefined) await devices.rename(authOf(res).userId, req.params.deviceId as string, name as string | null);
        else await devices.get(authOf(res).userId, req.params.deviceId as string); // 404 for unknown devices
        res.json({});
      },
    },
    {
      // DELETE /_matrix/client/v3/devices/{deviceId} (matrix-spec: device_management.yaml#deleteDevice)
      method: 'delete', path: '/v3/devices/:deviceId', r0: true,
      handler: async (req, res) => {
        const me = authOf(res);
        // A device that was already removed answers 200 too (spec: "or had been removed previously").
        await devices.delete(me, [req.params.deviceId as string], optObject(objectBody(req.body), 'auth'));
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/delete_devices (matrix-spec: device_management.yaml#deleteDevices)
      method: 'post', path: '/v3/delete_devices', r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const ids = optStringArray(b, 'devices');
        if (ids === undefined) throw badJson("'devices' is required");
        await devices.delete(authOf(res), ids, optObject(b, 'auth'));
        res.json({});
      },
    },
  ];
}
