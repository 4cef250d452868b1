// Small typed readers for request bodies and query strings; a wrong type or shape is 400 M_BAD_JSON
// (bodies) or M_INVALID_PARAM (query), naming the field.
import { badJson, invalidParam, missingParam } from '../errors.js';

export type Body = Record<string, unknown>;

/** The body must be a JSON object. */
export function objectBody(body: unknown): Body {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badJson('Content must be a JSON object');
  return body as Body;
}

export function optString(b: Body, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badJson(`'${key}' must be a string`);
  return v;
}

export function reqString(b: Body, key: string): string {
  const v = optString(b, key);
  if (v === undefined) throw missingParam(`'${key}' is required`);
  return v;
}

export function optBool(b: Body, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badJson(`'${key}' must be a boolean`);
  return v;
}

export function optInt(b: Body, key: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badJson(`'${key}' must be an integer`);
  return v;
}

export function optObject(b: Body, key: string): Body | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badJson(`'${key}' must be an object`);
  return v as Body;
}

export function optStringArray(b: Body, key: string): string[] | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badJson(`'${key}' must be a list of strings`);
  return v as string[];
}

/** A query parameter as one string (repeated parameters: the first). */
export function queryString(query: unknown, key: string): string | undefined {
  const v = (query as Record<string, unknown>)[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  if (typeof v !== 'string') throw invalidParam(`Query parameter '${key}' must be a string`);
  return v;
}

/** A query parameter that may repeat (`ver=10&ver=11`), as a list (absent: empty). */
export function queryStrings(query: unknown, key: string): string[] {
  const v = (query as Record<string, unknown>)[key];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'string')) throw invalidParam(`Query parameter '${key}' must be a string`);
  return list as string[];
}

export function queryInt(query: unknown, key: string, opts: { min?: number; max?: number } = {}): number | undefined {
  const s = queryString(query, key);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw invalidParam(`Query parameter '${key}' must be an integer`);
  const n = Number(s);
  if (opts.min !== undefined && n < opts.min) throw invalidParam(`Query parameter '${key}' must be at least ${opts.min}`);
  return opts.max !== undefined ? Math.min(n, opts.max) : n;
}

export function queryBool(query: unknown, key: string): boolean | undefined {
  const s = queryString(query, key);
  if (s === undefined) return undefined;
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw invalidParam(`Query parameter '${key}' must be true or false`);
}
