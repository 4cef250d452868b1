// This server's media for other servers (matrix-spec: server-server/content_repository.yaml;
// server-server-api "Content Repository"): local media only, as multipart/mixed (JSON metadata, then
// the bytes with the served type and disposition of local downloads). Unknown, expired and
// quarantined media answer 404 M_NOT_FOUND; a reserved ID is waited for up to timeout_ms (504
// M_NOT_YET_UPLOADED), as for clients.
import { parseThumbnailQuery } from '../../core/media/thumbnails.js';
import type { RouteDef } from '../../http/routes.js';
import { sendMultipartMedia } from '../../http/media.js';
import { queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';
import type { Request } from 'express';

const wait = (req: Request): { timeoutMs?: number } => {
  const t = queryInt(req.query, 'timeout_ms', { min: 0 });
  return t === undefined ? {} : { timeoutMs: t };
};

export function federationMediaRoutes(services: Services): RouteDef[] {
  const { media, config } = services;
  const mediaId = (req: Request) => req.params.mediaId as string;
  return [
    {
      // GET /_matrix/federation/v1/media/download/{mediaId} (matrix-spec: server-server/content_repository.yaml#getContent)
      method: 'get', path: '/v1/media/download/:mediaId', auth: 'federation',
      handler: async (req, res) => {
        await sendMultipartMedia(res, await media.download(config.server_name, mediaId(req), { ...wait(req), allowRemote: false }));
      },
    },
    {
      // GET /_matrix/federation/v1/media/thumbnail/{mediaId} (matrix-spec: server-server/content_repository.yaml#getContentThumbnail)
      method: 'get', path: '/v1/media/thumbnail/:mediaId', auth: 'federation',
      handler: async (req, res) => {
        const size = parseThumbnailQuery(queryString(req.query, 'width'), queryString(req.query, 'height'), queryString(req.query, 'method'), queryString(req.query, 'animated'));
        await sendMultipartMedia(res, await media.thumbnail(config.server_name, mediaId(req), { ...size, ...wait(req), allowRemote: false }));
      },
    },
  ];
}
