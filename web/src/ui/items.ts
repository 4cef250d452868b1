// One timeline item as DOM: messages (text as text, formatted bodies only through the sanitiser),
// "(edited)" and "Message deleted" marks, membership and room changes as one line, and
// server-generated events (sender = a domain) set apart with that domain as their sender.
import type { Json } from '../api.js';
import { formatTime, h, linkify, type Child } from '../dom.js';
import { isServerSender, type Item, type Room } from '../model.js';
import { sanitizeHtml } from '../sanitize.js';

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export interface ItemActions {
  me: string;
  /** Our own message may be edited and deleted once it has an event ID. */
  onEdit(item: Item): void;
  onDelete(item: Item, button: HTMLButtonElement): void;
}

/** The message body: sanitised HTML when the sender gave some, else the plain text with links. */
export function messageBody(content: Json): Node {
  if (content.format === 'org.matrix.custom.html' && typeof content.formatted_body === 'string') {
    return sanitizeHtml(content.formatted_body);
  }
  return linkify(str(content.body) ?? '');
}

/** A one-line preview for the room list: text only. */
export function preview(room: Room, item: Item): string {
  if (item.redacted) return 'Message deleted';
  const who = isServerSender(item.sender) ? item.sender : room.memberName(item.sender);
  if (item.type === 'm.room.message') {
    const body = (str(item.content.body) ?? '').replace(/\s+/g, ' ');
    return item.content.msgtype === 'm.emote' ? `* ${who} ${body}` : `${who}: ${body}`;
  }
  if (item.type === 'm.room.encrypted') return `${who}: encrypted message`;
  return stateLine(room, item) ?? `${who}: ${item.type}`;
}

function stateLine(room: Room, item: Item): string | undefined {
  const c = item.content;
  const who = isServerSender(item.sender) ? `The server ${item.sender}` : room.memberName(item.sender);
  switch (item.type) {
    case 'm.room.create': return `${who} created the room`;
    case 'm.room.name': return str(c.name) ? `${who} named the room “${str(c.name)}”` : `${who} removed the room name`;
    case 'm.room.topic': return str(c.topic) ? `${who} set the topic: ${str(c.topic)}` : `${who} removed the topic`;
    case 'm.room.member': {
      const target = item.stateKey ?? '';
      const targetName = str(c.displayname) ?? room.memberName(target);
      const prev = str(item.prevContent?.membership);
      const reason = str(c.reason);
      const because = reason ? `: “${reason}”` : '';
      switch (c.membership) {
        case 'join':
          if (prev === 'join') return str(c.displayname) !== str(item.prevContent?.displayname) ? `${str(item.prevContent?.displayname) ?? target} is now called ${targetName}` : undefined;
          return `${targetName} joined the room`;
        case 'invite': return `${who} invited ${targetName}${because}`;
        case 'leave':
          if (item.sender !== target) return prev === 'ban' ? `${who} unbanned ${room.memberName(target)}` : `${who} removed ${room.memberName(target)}${because}`;
          return prev === 'invite' ? `${room.memberName(target)} declined the invite${because}` : `${room.memberName(target)} left the room${because}`;
        case 'ban': return `${who} banned ${room.memberName(target)}${because}`;
        case 'knock': return `${targetName} asked to join${because}`;
      }
      return undefined;
    }
  }
  return undefined;
}

/** Fills the item's <li> (kept across re-renders, so the list keeps its order and scroll). */
export function renderItem(li: HTMLLIElement, room: Room, item: Item, actions: ItemActions): void {
  li.replaceChildren();
  li.dataset.key = item.key;
  if (item.eventId) li.dataset.eventId = item.eventId;
  const server = isServerSender(item.sender);
  const isMessage = item.type === 'm.room.message' || item.type === 'm.room.encrypted';
  if (item.stateKey !== undefined || (!isMessage && !server)) {
    // State changes are one line, the server's own too ("The server example.org created the room").
    const line = stateLine(room, item);
    li.className = server ? 'item state server-state' : 'item state';
    li.hidden = line === undefined; // e.g. a join that changed nothing shown
    if (line) li.append(h('span', { class: 'state-text' }, line), ' ', h('time', { datetime: new Date(item.ts).toISOString() }, formatTime(item.ts)));
    return;
  }
  const own = item.sender === actions.me;
  const classes = ['item', 'msg'];
  if (own) classes.push('own');
  if (server) classes.push('server');
  if (item.redacted) classes.push('redacted');
  if (item.content.msgtype === 'm.notice') classes.push('notice');
  if (item.pending) classes.push(item.pending);
  li.className = classes.join(' ');
  li.hidden = false;

  const senderName = server ? item.sender : room.memberName(item.sender);
  const meta: Child[] = [
    server ? h('span', { class: 'server-badge' }, room.isNotices ? 'Server notice' : 'Server event') : null,
    h('span', { class: 'sender', title: item.sender }, senderName),
    ' ',
    h('time', { datetime: new Date(item.ts).toISOString(), title: new Date(item.ts).toLocaleString() }, formatTime(item.ts)),
  ];
  li.append(h('div', { class: 'meta' }, meta));

  let body: Node;
  if (item.redacted) body = h('span', { class: 'deleted' }, 'Message deleted');
  else if (item.type === 'm.room.encrypted') body = h('span', { class: 'deleted' }, 'Encrypted message (this client cannot decrypt it)');
  else if (item.type !== 'm.room.message') body = document.createTextNode(str(item.content.body) ?? `${item.type} ${JSON.stringify(item.content)}`);
  else if (item.content.msgtype === 'm.emote') body = h('span', null, `* ${senderName} `, messageBody(item.content));
  else body = messageBody(item.content);
  li.append(h('div', { class: 'body' }, body, item.edited && !item.redacted ? h('span', { class: 'edited' }, ' (edited)') : null));

  if (item.pending === 'failed') li.append(h('p', { class: 'error' }, 'Not sent.'));
  if (own && !server && !item.redacted && item.eventId && !item.pending && item.type === 'm.room.message') {
    const del = h('button', { type: 'button', class: 'link-button danger-text' }, 'Delete');
    del.addEventListener('click', () => actions.onDelete(item, del));
    li.append(h('div', { class: 'msg-actions' }, h('button', { type: 'button', class: 'link-button', onclick: () => actions.onEdit(item) }, 'Edit'), del));
  }
}
