// Canonical JSON (matrix-spec: content/appendices.md "Canonical JSON"; rooms v6+ "Canonical JSON":
// servers MUST strictly enforce it).

export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

// A UTF-16 code unit that is a surrogate not part of a valid pair: it has no UTF-8 encoding and the
// grammar has no escape for it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Strings: JSON.stringify already emits exactly the grammar's shortest escapes (`\"`, `\\`, `\b`,
 * `\t`, `\n`, `\f`, `\r`, other ASCII control characters as lowercase `\u00XX`) and leaves every
 * other code point, including U+007F and non-ASCII, unescaped.
 */
function encodeString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError('String contains a lone surrogate');
  return JSON.stringify(s);
}

/** Orders by Unicode code point (UTF-16 code unit order differs above U+FFFF). */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function encode(value: unknown): string {
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return encodeString(value);
    case 'number':
      // Integers in [-(2**53)+1, (2**53)-1], no fractions or exponents; -0 becomes 0.
      if (!Number.isSafeInteger(value)) throw new CanonicalJsonError(`Number ${value} is not an integer in the allowed range`);
      return String(value === 0 ? 0 : value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
      // Rejects Map, Set, Date, typed arrays, ... (a prototype check would also reject plain objects
      // from another realm, e.g. structuredClone's results under jest's vm).
      if (Object.prototype.toString.call(value) !== '[object Object]') throw new CanonicalJsonError('Only plain objects can be encoded');
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined) // absent optional properties, as JSON.stringify does
        .sort(([a], [b]) => compareCodePoints(a, b));
      return `{${entries.map(([k, v]) => `${encodeString(k)}:${encode(v)}`).join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`Cannot encode a value of type ${typeof value}`);
  }
}

/** The canonical JSON text of `value`; throws CanonicalJsonError for values it cannot represent. */
export function canonicalJson(value: unknown): string {
  return encode(value);
}

/** The canonical JSON of `value` encoded as UTF-8, the bytes that get hashed and signed. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(encode(value), 'utf8');
}
