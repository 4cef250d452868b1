// matrix-nio 0.26 against the media repository (test/python/nio_media.py): nio uploads through
// /_matrix/media/v3/upload and downloads and thumbnails through the authenticated
// /_matrix/client/v1/media paths (access token in the query, as nio sends it), so it works with the
// legacy unauthenticated paths off (the default).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { lastJson, runPython, startToolServer, type ToolServer } from '../helpers/python.js';

const PASSWORD = 'nio password 123';

describe('matrix-nio and the media repository', () => {
  let hs: ToolServer;
  let dir: string;
  beforeAll(async () => {
    hs = await startToolServer();
    dir = mkdtempSync(join(tmpdir(), 'hearth-nio-media-'));
  });
  afterAll(async () => {
    await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads, downloads with the file name and type, and gets a 96x96 crop thumbnail', async () => {
    expect(hs.services.config.media.allow_legacy_unauthenticated).toBe(false);
    await hs.services.registration.createUser({ localpart: 'niomedia', password: PASSWORD, admin: false });
    const png = join(dir, 'picture.png');
    writeFileSync(png, await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer());
    const r = await runPython('nio_media.py', [hs.url, '@niomedia:localhost', PASSWORD, png], { timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`nio_media.py exited ${r.code}:\n${r.stderr}`);
    const out = lastJson<Record<string, unknown>>(r);
    expect(out).toEqual({
      login: 'LoginResponse',
      upload: 'UploadResponse',
      content_uri: expect.stringMatching(/^mxc:\/\/localhost\/[A-Za-z0-9_-]{24}$/),
      download: 'MemoryDownloadResponse',
      body: 'hello from nio',
      filename: 'nio note.txt',
      content_type: 'text/plain',
      thumbnail: 'ThumbnailResponse',
      thumbnail_type: 'image/png',
      thumbnail_png: true,
      thumbnail_size: [96, 96],
    });
  }, 120_000);
});
