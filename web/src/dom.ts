// A tiny element builder. Text always goes in as text nodes (never parsed as HTML), attributes
// through setAttribute, listeners through addEventListener; there is no way to pass markup.

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined;
export type Attrs = { [name: string]: AttrValue | ((ev: Event) => void) };

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value as EventListener);
      else if (value === true) el.setAttribute(name, '');
      else if (value !== false && value !== null && value !== undefined) el.setAttribute(name === 'className' ? 'class' : name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces every child of `el`. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let idCounter = 0;
export const uid = (prefix: string) => `${prefix}-${++idCounter}`;

/** An element found by selector that must exist (the UI builds it). */
export function $<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const el = root.querySelector<T & Element>(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return el as T;
}

/** Link attributes for every link to elsewhere: a new tab that learns nothing about this page. */
export function externalLink(a: HTMLAnchorElement, href: string): HTMLAnchorElement {
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

/** `http:`/`https:` (and `mailto:` when allowed) absolute URLs only; anything else is no link. */
export function safeUrl(raw: string, allowMailto = true): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:' || (allowMailto && url.protocol === 'mailto:')) return url.href;
  return undefined;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/g;

/** Plain text with its http(s) URLs as links; the text itself stays text. */
export function linkify(text: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let raw = m[0];
    const trail = /[.,;:!?)\]]+$/.exec(raw);
    if (trail) raw = raw.slice(0, -trail[0].length);
    const at = m.index ?? 0;
    const href = safeUrl(raw, false);
    if (!href) continue;
    if (at > last) frag.appendChild(document.createTextNode(text.slice(last, at)));
    const a = externalLink(document.createElement('a'), href);
    a.textContent = raw;
    frag.appendChild(a);
    last = at + raw.length;
  }
  if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
  return frag;
}

export function formatTime(ts: number): string {
  const d = new Date(ts);
  const now = new Date();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === now.toDateString() ? time : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}
