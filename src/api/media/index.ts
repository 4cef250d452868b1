// The media repository's routes (matrix-spec: content-repo.yaml, authed-content-repo.yaml).
//
// - mediaRoutes, mounted under /_matrix/media: uploads (POST /v3/upload, PUT /v3/upload/{s}/{id},
//   POST /v1/create, which the spec keeps there) and the deprecated unauthenticated downloads,
//   thumbnails, config and preview_url. Downloads and thumbnails there answer only with
//   media.allow_legacy_unauthenticated (else 404 M_NOT_FOUND: the spec's "freeze"). The r0-era
//   routes also answer under /_matrix/media/r0/.
// - mediaClientRoutes, under /_matrix/client: the authenticated /v1/media/* routes (v1.11).
import { invalidParam, notFound, unrecognized } from '../../errors.js';
import { parseThumbnailQuery } from '../../core/media/thumbnails.js';
import { MEDIA_ORDERS } from '../../core/media/service.js';
import type { UploadInput } from '../../core/media/service.js';
import type { MediaOrder } from '../../storage/media-types.js';
import { authOf } from '../../http/auth.js';
import { sendMedia } from '../../http/media.js';
import type { RouteDef } from '../../http/routes.js';
import { queryBool, queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';
import type { Request, Response } from 'express';

function uploadInput(req: Request): UploadInput {
  const length = req.headers['content-length'];
  return {
    contentType: req.headers['content-type'] ?? null,
    filename: queryString(req.query, 'filename') ?? null,
    contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : null,
    body: req,
  };
}

const p = (req: Request, name: string) => req.params[name] as string;

export function mediaRoutes(services: Services): RouteDef[] {
  const { media } = services;
  const legacyAllowed = () => {
    if (!services.config.media.allow_legacy_unauthenticated) {
      throw notFound('Unauthenticated media is disabled on this server: use /_matrix/client/v1/media');
    }
  };
  const legacyDownload = async (req: Request, res: Response) => {
    legacyAllowed();
    await sendMedia(req, res, await media.download(p(req, 'serverName'), p(req, 'mediaId'), {
      ...(req.params.fileName !== undefined ? { fileName: p(req, 'fileName') } : {}),
      ...optionalWait(req),
      allowRemote: queryBool(req.query, 'allow_remote') ?? true,
      ...(req.headers.range ? { range: req.headers.range } : {}),
    }));
  };
  return [
    {
      // POST /_matrix/media/v3/upload (matrix-spec: content-repo.yaml#uploadContent)
      method: 'post', path: '/v3/upload', r0: true, body: 'raw',
      handler: async (req, res) => {
        res.json(await media.upload(authOf(res), uploadInput(req)));
      },
    },
    {
      // PUT /_matrix/media/v3/upload/{serverName}/{mediaId} (matrix-spec: content-repo.yaml#uploadContentToMXC)
      method: 'put', path: '/v3/upload/:serverName/:mediaId', body: 'raw',
      handler: async (req, res) => {
        await media.uploadTo(authOf(res), p(req, 'serverName'), p(req, 'mediaId'), uploadInput(req));
        res.json({});
      },
    },
    {
      // POST /_matrix/media/v1/create (matrix-spec: content-repo.yaml#createContent)
      method: 'post', path: '/v1/create',
      handler: async (_req, res) => {
        res.json(await media.create(authOf(res)));
      },
    },
    {
      // GET /_matrix/media/v3/download/{serverName}/{mediaId} (matrix-spec: content-repo.yaml#getContent, deprecated)
      method: 'get', path: '/v3/download/:serverName/:mediaId', r0: true, auth: 'none',
      handler: legacyDownload,
    },
    {
      // GET /_matrix/media/v3/download/{serverName}/{mediaId}/{fileName} (matrix-spec: content-repo.yaml#getContentOverrideName, deprecated)
      method: 'get', path: '/v3/download/:serverName/:mediaId/:fileName', r0: true, auth: 'none',
      handler: legacyDownload,
    },
    {
      // GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} (matrix-spec: content-repo.yaml#getContentThumbnail, deprecated)
      method: 'get', path: '/v3/thumbnail/:serverName/:mediaId', r0: true, auth: 'none',
      handler: async (req, res) => {
        legacyAllowed();
        await sendMedia(req, res, await media.thumbnail(p(req, 'serverName'), p(req, 'mediaId'), {
          ...thumbnailQuery(req), ...optionalWait(req), allowRemote: queryBool(req.query, 'allow_remote') ?? true,
        }));
      },
    },
    {
      // GET /_matrix/media/v3/config (matrix-spec: content-repo.yaml#getConfig, deprecated)
      method: 'get', path: '/v3/config', r0: true,
      handler: (_req, res) => {
        res.json(media.mediaConfig());
      },
    },
    {
      // GET /_matrix/media/v3/preview_url (matrix-spec: content-repo.yaml#getUrlPreview, deprecated)
      method: 'get', path: '/v3/preview_url', r0: true,
      handler: () => {
        throw previewsDisabled();
      },
    },
  ];
}

export function mediaClientRoutes(services: Services): RouteDef[] {
  const { media } = services;
  const download = async (req: Request, res: Response) => {
    await sendMedia(req, res, await media.download(p(req, 'serverName'), p(req, 'mediaId'), {
      ...(req.params.fileName !== undefined ? { fileName: p(req, 'fileName') } : {}),
      ...optionalWait(req),
      ...(req.headers.range ? { range: req.headers.range } : {}),
    }));
  };
  return [
    {
      // GET /_matrix/client/v1/media/config (matrix-spec: authed-content-repo.yaml#getConfigAuthed)
      method: 'get', path: '/v1/media/config',
      handler: (_req, res) => {
        res.json(media.mediaConfig());
      },
    },
    {
      // GET /_matrix/client/v1/media/download/{serverName}/{mediaId} (matrix-spec: authed-content-repo.yaml#getContentAuthed)
      method: 'get', path: '/v1/media/download/:serverName/:mediaId', guest: true,
      handler: download,
    },
    {
      // GET /_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName} (matrix-spec: authed-content-repo.yaml#getContentOverrideNameAuthed)
      method: 'get', path: '/v1/media/download/:serverName/:mediaId/:fileName', guest: true,
      handler: download,
    },
    {
      // GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} (matrix-spec: authed-content-repo.yaml#getContentThumbnailAuthed)
      method: 'get', path: '/v1/media/thumbnail/:serverName/:mediaId', guest: true,
      handler: async (req, res) => {
        await sendMedia(req, res, await media.thumbnail(p(req, 'serverName'), p(req, 'mediaId'), { ...thumbnailQuery(req), ...optionalWait(req) }));
      },
    },
    {
      // GET /_matrix/client/v1/media/preview_url (matrix-spec: authed-content-repo.yaml#getUrlPreviewAuthed)
      method: 'get', path: '/v1/media/preview_url',
      handler: () => {
        throw previewsDisabled();
      },
    },
  ];
}

/**
 * URL previews fetch arbitrary URLs from the server: they wait for the outbound request policy
 * (SSRF protection) that federation is building. Until then: a clear refusal.
 */
const previewsDisabled = () => unrecognized('URL previews are not enabled on this server', 404);

const optionalWait = (req: Request): { timeoutMs?: number } => {
  const t = queryInt(req.query, 'timeout_ms', { min: 0 });
  return t === undefined ? {} : { timeoutMs: t };
};

const thumbnailQuery = (req: Request) => parseThumbnailQuery(
  queryString(req.query, 'width'), queryString(req.query, 'height'), queryString(req.query, 'method'), queryString(req.query, 'animated'),
);

/** Admin media routes (Synapse admin API paths and shapes). */
export function adminMediaRoutes(services: Services): RouteDef[] {
  const { media } = services;
  const A = { admin: true } as const;
  return [
    {
      // POST /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId} (Synapse admin API: media_admin_api "Quarantining media by ID")
      method: 'post', path: '/_synapse/admin/v1/media/quarantine/:serverName/:mediaId', ...A,
      handler: async (req, res) => {
        await media.quarantine(authOf(res), p(req, 'serverName'), p(req, 'mediaId'), true);
        res.json({});
      },
    },
    {
      // POST /_synapse/admin/v1/media/unquarantine/{serverName}/{mediaId} (Synapse admin API: media_admin_api "Remove media from quarantine by ID")
      method: 'post', path: '/_synapse/admin/v1/media/unquarantine/:serverName/:mediaId', ...A,
      handler: async (req, res) => {
        await media.quarantine(authOf(res), p(req, 'serverName'), p(req, 'mediaId'), false);
        res.json({});
      },
    },
    {
      // DELETE /_synapse/admin/v1/media/{serverName}/{mediaId} (Synapse admin API: media_admin_api "Delete a specific local media")
      method: 'delete', path: '/_synapse/admin/v1/media/:serverName/:mediaId', ...A,
      handler: async (req, res) => {
        res.json(await media.delete(p(req, 'serverName'), p(req, 'mediaId')));
      },
    },
    {
      // GET /_synapse/admin/v1/users/{userId}/media (Synapse admin API: user_admin_api "List media uploaded by a user")
      method: 'get', path: '/_synapse/admin/v1/users/:userId/media', ...A,
      handler: async (req, res) => {
        const orderBy = queryString(req.query, 'order_by') ?? 'created_ts';
        if (!MEDIA_ORDERS.includes(orderBy as MediaOrder)) throw invalidParam(`order_by must be one of ${MEDIA_ORDERS.join(', ')}`);
        const dir = queryString(req.query, 'dir') ?? 'f';
        if (dir !== 'f' && dir !== 'b') throw invalidParam("dir must be 'f' or 'b'");
        res.json(await media.listUserMedia(p(req, 'userId'), {
          from: queryInt(req.query, 'from', { min: 0 }) ?? 0,
          limit: queryInt(req.query, 'limit', { min: 0, max: 1000 }) ?? 100,
          orderBy: orderBy as MediaOrder,
          dir,
        }));
      },
    },
  ];
}
