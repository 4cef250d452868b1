// Canonical JSON (matrix-spec: content/appendices.md "Canonical JSON"; rooms v6+ "Canonical JSON":
// servers MUST strictly enforce it).

export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

// Any UTF-16 surrogate code unit: a cheap precheck, almost no string has one.
const SURROGATE = /[\uD800-\uDFFF]/;

// A UTF-16 code unit that is a surrogate not part of a valid pair: it has no UTF-8 encoding and the
// grammar has no escape for it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// Everything JSON.stringify would escape (`"`, `\`, ASCII control characters) plus the surrogates;
// a string without any of them is encoded by just quoting it.
const NEEDS_CARE = /["\\\u0000-\u001F\uD800-\uDFFF]/;

/**
 * Strings: JSON.stringify already emits exactly the grammar's shortest escapes (`\"`, `\\`, `\b`,
 * `\t`, `\n`, `\f`, `\r`, other ASCII control characters as lowercase `\u00XX`) and leaves every
 * other code point, including U+007F and non-ASCII, unescaped.
 */
function encodeString(s: string): string {
  if (!NEEDS_CARE.test(s)) return `"${s}"`;
  if (SURROGATE.test(s) && LONE_SURROGATE.test(s)) throw new CanonicalJsonError('String contains a lone surrogate');
  return JSON.stringify(s);
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/**
 * Orders by Unicode code point (UTF-16 code unit order differs above U+FFFF), treating a lone
 * surrogate as the code point of its value. Only the sign of the result is meaningful.
 */
function compareCodePoints(a: string, b: string): number {
  // Without surrogates every code unit is a code point and both orders coincide.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length; // one is a prefix of the other (in code units and code points)
  // The strings agree before i. If the (equal) unit before i is a high surrogate it starts the code
  // point that differs: a pair in one string, possibly a lone high surrogate in the other.
  if (i > 0 && isHighSurrogate(a.charCodeAt(i - 1))) {
    const d = a.codePointAt(i - 1)! - b.codePointAt(i - 1)!;
    if (d !== 0) return d;
    // Both are the same lone high surrogate; the next code points start at i.
  }
  return a.codePointAt(i)! - b.codePointAt(i)!;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
      if (Array.isArray(value)) {
        const n = value.length;
        if (n === 0) return '[]';
        let out = '[';
        for (let i = 0; i < n; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          // A hole in a sparse array encodes as nothing (as the former map().join() did);
          // an explicit undefined element is rejected by encode.
          if (item === undefined && !(i in value)) continue;
          out += encode(item);
        }
        return out + ']';
      }
      // Rejects Map, Set, Date, typed arrays, ... (a prototype check would also reject plain objects
      // from another realm, e.g. structuredClone's results under jest's vm).
      if (Object.prototype.toString.call(value) !== '[object Object]') throw new CanonicalJsonError('Only plain objects can be encoded');
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      if (keys.length > 1) {
        let surrogates = false;
        for (let i = 0; i < keys.length; i++) {
          if (SURROGATE.test(keys[i]!)) {
            surrogates = true;
            break;
          }
        }
        keys.sort(surrogates ? compareCodePoints : compareCodeUnits);
      }
      let out = '{';
      let first = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = obj[k];
        if (v === undefined) continue; // absent optional properties, as JSON.stringify does
        if (first) first = false;
        else out += ',';
        out += encodeString(k);
        out += ':';
        out += encode(v);
      }
      return out + '}';
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
