// An allow-list sanitiser for `formatted_body` (format `org.matrix.custom.html`; matrix-spec:
// client-server-api "m.room.message msgtypes", the HTML subset clients should allow).
//
// The HTML is parsed by DOMParser into an inert document (no script runs, nothing loads), then
// copied node by node into new elements of this page: only allowed tags, only allowed attributes
// with checked values. Text is copied as text. Nothing is ever assigned to innerHTML. Unknown tags
// are unwrapped (their text kept); dangerous ones are dropped with their content. The walker reads
// the parsed nodes through the prototype getters, so markup cannot clobber them (`<form name=...>`).

const ALLOWED: Record<string, readonly string[]> = {
  a: ['href', 'title'],
  b: [], strong: [], i: [], em: [], u: [], s: [], del: [], strike: [], sub: [], sup: [],
  code: ['class'], pre: [], blockquote: [], p: [], br: [], hr: [], div: [], span: [],
  ul: [], ol: ['start'], li: [],
  h1: [], h2: [], h3: [], h4: [], h5: [], h6: [],
  table: [], thead: [], tbody: [], tr: [], th: [], td: [], caption: [],
  details: [], summary: [],
};

/** Dropped with everything inside (mx-reply is the reply fallback the spec says to strip). */
const DROP = new Set([
  'script', 'style', 'template', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'noscript',
  'svg', 'math', 'head', 'title', 'meta', 'link', 'base', 'form', 'input', 'button', 'select', 'textarea',
  'option', 'audio', 'video', 'source', 'track', 'canvas', 'img', 'picture', 'mx-reply',
]);

const MAX_DEPTH = 40;
const MAX_ATTR = 2000;

function getter<T>(proto: object, name: string): (node: Node) => T {
  const get = Object.getOwnPropertyDescriptor(proto, name)?.get;
  if (!get) throw new Error(`no getter ${name}`);
  return (node) => get.call(node) as T;
}

const nodeTypeOf = getter<number>(Node.prototype, 'nodeType');
const nodeNameOf = getter<string>(Node.prototype, 'nodeName');
const firstChildOf = getter<Node | null>(Node.prototype, 'firstChild');
const nextSiblingOf = getter<Node | null>(Node.prototype, 'nextSibling');
const dataOf = getter<string>(CharacterData.prototype, 'data');
const bodyOf = getter<HTMLElement | null>(Document.prototype, 'body');
const getAttr = Element.prototype.getAttribute;

function attrValue(tag: string, name: string, value: string): string | undefined {
  if (value.length > MAX_ATTR) return undefined;
  if (name === 'href') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return undefined;
    }
    return url.protocol === 'https:' || url.protocol === 'http:' || url.protocol === 'mailto:' ? url.href : undefined;
  }
  if (name === 'class') return tag === 'code' && /^language-[A-Za-z0-9_+-]{1,40}$/.test(value) ? value : undefined;
  if (name === 'start') return /^\d{1,6}$/.test(value) ? value : undefined;
  return value;
}

function copyChildren(from: Node, to: Node, depth: number): void {
  for (let child = firstChildOf(from); child; child = nextSiblingOf(child)) {
    const type = nodeTypeOf(child);
    if (type === Node.TEXT_NODE) {
      to.appendChild(document.createTextNode(dataOf(child)));
      continue;
    }
    if (type !== Node.ELEMENT_NODE) continue; // comments, processing instructions
    const tag = nodeNameOf(child).toLowerCase();
    if (DROP.has(tag) || depth >= MAX_DEPTH) continue;
    const allowed = Object.hasOwn(ALLOWED, tag) ? ALLOWED[tag] : undefined;
    if (!allowed) {
      copyChildren(child, to, depth + 1); // unknown: keep the text, lose the tag
      continue;
    }
    const el = document.createElement(tag);
    for (const name of allowed) {
      const raw = getAttr.call(child, name);
      if (raw === null) continue;
      const value = attrValue(tag, name, raw);
      if (value !== undefined) el.setAttribute(name, value);
    }
    if (tag === 'a' && el.hasAttribute('href')) {
      el.setAttribute('target', '_blank');
      el.setAttribute('rel', 'noopener noreferrer');
    }
    copyChildren(child, el, depth + 1);
    to.appendChild(el);
  }
}

/** The allowed part of `html` as nodes of this document, ready to append. */
export function sanitizeHtml(html: string): DocumentFragment {
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  const out = document.createDocumentFragment();
  const body = bodyOf(parsed);
  if (body) copyChildren(body, out, 0);
  return out;
}
