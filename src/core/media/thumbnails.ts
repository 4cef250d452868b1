// Thumbnails with sharp (matrix-spec: client-server-api "Thumbnails"; authed-content-repo.yaml
// #getContentThumbnailAuthed). The spec's sizes first (32x32 and 96x96 crop; 320x240, 640x480 and
// 800x600 scale): a request gets the smallest of them that is at least as large as asked with its
// method, so thumbnails are made once and shared; larger requests get exactly what they ask for.
// Never upscaled, never smaller than asked unless the image is: an image that already fits is
// served as it is. `scale` keeps the aspect ratio and fits inside the box; `crop` fills the box and
// cuts the overflow around the centre. Animated images (GIF, WebP, APNG) give an animated WebP only
// when `animated=true` (the spec prefers WebP); otherwise their first frame.
import sharp, { type Metadata } from 'sharp';
import { invalidParam, MatrixError, missingParam } from '../../errors.js';

export type ThumbnailMethod = 'crop' | 'scale';

export interface ThumbnailSize {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

/** The sizes and methods the spec says servers SHOULD produce, smallest first. */
export const STANDARD_SIZES: ThumbnailSize[] = [
  { width: 32, height: 32, method: 'crop' },
  { width: 96, height: 96, method: 'crop' },
  { width: 320, height: 240, method: 'scale' },
  { width: 640, height: 480, method: 'scale' },
  { width: 800, height: 600, method: 'scale' },
];

/** Largest thumbnail side made on request (bigger requests are clamped; the original serves them). */
export const MAX_THUMBNAIL_SIDE = 2048;
/** Images with more pixels (all frames) are not decoded: 413 M_TOO_LARGE. */
export const MAX_INPUT_PIXELS = 100_000_000;
/** Sources larger than this are not thumbnailed: 413 M_TOO_LARGE. */
export const MAX_SOURCE_BYTES = 50 * 1024 * 1024;

/** The image types thumbnails are made of. */
export const THUMBNAIL_SOURCES = new Set(['image/jpeg', 'image/png', 'image/apng', 'image/gif', 'image/webp', 'image/avif']);

/** The size to make for a request: a standard size when one covers it, else the request itself (bounded). */
export function chooseSize(width: number, height: number, method: ThumbnailMethod): ThumbnailSize {
  const standard = STANDARD_SIZES.find((s) => s.method === method && s.width >= width && s.height >= height);
  if (standard) return standard;
  return { width: Math.min(width, MAX_THUMBNAIL_SIDE), height: Math.min(height, MAX_THUMBNAIL_SIDE), method };
}

export interface Thumbnail {
  data: Buffer;
  contentType: string;
  width: number;
  height: number;
  animated: boolean;
}

export const cannotThumbnail = () => new MatrixError(400, 'M_UNKNOWN', 'Cannot generate thumbnails for the requested content');
export const tooLargeToThumbnail = () => new MatrixError(413, 'M_TOO_LARGE', 'Content is too large to thumbnail');

/**
 * A thumbnail of `input` (an image of type `sourceType`) at `size`, or 'original' when the image
 * already fits in the box and may be served as it is (for a static answer, only a static image).
 */
export async function makeThumbnail(input: Buffer, sourceType: string, size: ThumbnailSize, wantAnimated: boolean): Promise<Thumbnail | 'original'> {
  if (input.length > MAX_SOURCE_BYTES) throw tooLargeToThumbnail();
  let meta: Metadata;
  try {
    meta = await sharp(input, { animated: true, limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch (e) {
    throw decodeError(e);
  }
  const pages = meta.pages ?? 1;
  const width = meta.width;
  const height = meta.pageHeight ?? meta.height;
  if (!width || !height) throw cannotThumbnail();
  if (width * height * pages > MAX_INPUT_PIXELS) throw tooLargeToThumbnail();
  const isAnimated = pages > 1;
  const animated = wantAnimated && isAnimated;
  if (width <= size.width && height <= size.height && (animated || !isAnimated)) return 'original';
  try {
    let img = sharp(input, { animated, limitInputPixels: MAX_INPUT_PIXELS, autoOrient: !animated });
    img = img.resize(size.width, size.height, {
      fit: size.method === 'crop' ? 'cover' : 'inside',
      position: 'centre',
      withoutEnlargement: true,
    });
    let contentType: string;
    if (animated) {
      img = img.webp({ quality: 80 });
      contentType = 'image/webp';
    } else if (sourceType === 'image/jpeg') {
      img = img.jpeg({ quality: 80, mozjpeg: true });
      contentType = 'image/jpeg';
    } else {
      img = img.png();
      contentType = 'image/png';
    }
    const { data, info } = await img.toBuffer({ resolveWithObject: true });
    return { data, contentType, width: info.width, height: info.pageHeight ?? info.height, animated };
  } catch (e) {
    throw decodeError(e);
  }
}

function decodeError(e: unknown): MatrixError {
  if (e instanceof MatrixError) return e;
  if (/pixel limit/i.test((e as Error).message ?? '')) return tooLargeToThumbnail();
  return cannotThumbnail();
}

/** The query of a thumbnail request: width and height (1 or more), method (default scale), animated. */
export function parseThumbnailQuery(width: string | undefined, height: string | undefined, method: string | undefined, animated: string | undefined): ThumbnailSize & { animated: boolean } {
  const dim = (v: string | undefined, name: string) => {
    if (v === undefined) throw missingParam(`The '${name}' query parameter is required`);
    if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw invalidParam(`'${name}' must be a positive integer`);
    return Number(v);
  };
  const w = dim(width, 'width');
  const h = dim(height, 'height');
  if (method !== undefined && method !== 'crop' && method !== 'scale') throw invalidParam("'method' must be crop or scale");
  if (animated !== undefined && animated !== 'true' && animated !== 'false') throw invalidParam("'animated' must be true or false");
  return { width: w, height: h, method: (method ?? 'scale') as ThumbnailMethod, animated: animated === 'true' };
}
