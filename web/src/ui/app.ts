// The chat screen: top bar (who you are, this tab's presence switch, sessions, log out), the room
// list with invites, and the open room (members with presence, timeline, typing, composer).
import type { Client } from '../client.js';
import { $, h, replaceChildren, uid } from '../dom.js';
import type { Item, Room } from '../model.js';
import { createRoomDialog, directoryDialog, errorText, inviteDialog, joinDialog, sessionsDialog } from './dialogs.js';
import { preview, renderItem } from './items.js';

export interface AppOptions {
  onLogout(message?: string): void;
}

const wide = () => matchMedia('(min-width: 48em)').matches;

function presenceDot(presence: string | undefined): HTMLSpanElement {
  const p = presence === 'online' || presence === 'unavailable' ? presence : 'offline';
  const label = p === 'unavailable' ? 'away' : p;
  return h('span', { class: `dot ${p}`, role: 'img', 'aria-label': label, title: label });
}

export function showApp(root: HTMLElement, client: Client, opts: AppOptions): void {
  let current: Room | undefined;
  let editing: Item | undefined;
  let openWhenJoined: string | undefined;

  // ---- top bar ----
  const meDot = presenceDot('offline');
  const status = h('span', { class: 'conn', role: 'status' }, 'Connecting…');
  // Phones show "Appear offline" only; the name says it all everywhere.
  const appearOffline = h('input', { type: 'checkbox', role: 'switch', id: 'appear-offline', 'aria-label': 'Appear offline in this tab' });
  appearOffline.checked = client.appearOffline;
  const topbar = h('header', { class: 'topbar' },
    h('h1', { class: 'brand' }, 'Hearth'),
    h('span', { class: 'me' }, meDot, h('span', { class: 'me-id' }, client.userId)),
    status,
    h('span', { class: 'spacer' }),
    h('span', { class: 'switch' }, appearOffline, h('label', { for: 'appear-offline' }, 'Appear offline', h('span', { class: 'wide-only' }, ' in this tab'))),
    h('button', { type: 'button', onclick: () => sessionsDialog(client) }, 'Sessions'),
    h('button', { type: 'button', onclick: () => void logout() }, 'Log out'),
  );
  appearOffline.addEventListener('change', () => {
    const want = appearOffline.checked;
    client.setAppearOffline(want).catch((e) => {
      appearOffline.checked = !want;
      showError(`Could not change this tab's presence: ${errorText(e)}`);
    });
  });

  // ---- sidebar ----
  const inviteList = h('ul', { class: 'invites' });
  const invitesSection = h('section', { class: 'invites-section', 'aria-labelledby': 'invites-title' }, h('h2', { id: 'invites-title' }, 'Invites'), inviteList);
  const roomList = h('ul', { class: 'room-list', 'aria-labelledby': 'rooms-title' });
  const noRooms = h('p', { class: 'muted empty' }, 'No rooms yet: create one, join one, or browse the public rooms.');
  const sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Rooms' },
    h('div', { class: 'room-actions' },
      h('button', { type: 'button', class: 'primary', onclick: () => createRoomDialog(client, openSoon) }, 'Create room'),
      h('button', { type: 'button', onclick: () => joinDialog(client, openSoon) }, 'Join room'),
      h('button', { type: 'button', onclick: () => directoryDialog(client, openSoon) }, 'Browse rooms')),
    invitesSection,
    h('h2', { id: 'rooms-title' }, 'Rooms'),
    roomList,
    noRooms,
  );

  // ---- room view ----
  const title = h('h2', { id: 'room-title' });
  const topic = h('p', { class: 'topic' });
  const members = h('ul', { class: 'members', 'aria-label': 'Members' });
  const inviteBtn = h('button', { type: 'button', onclick: () => current && inviteDialog(client, current.id, current.displayName(client.userId)) }, 'Invite');
  const leaveBtn = h('button', { type: 'button', onclick: () => void leaveCurrent() }, 'Leave room');
  const olderBtn = h('button', { type: 'button', class: 'older' }, 'Load older messages');
  const startNote = h('p', { class: 'muted start-note' }, 'This is the beginning of the room.');
  const timeline = h('ol', { class: 'timeline', role: 'log', 'aria-labelledby': 'room-title', 'aria-live': 'polite' });
  const scroller = h('div', { class: 'scroller', tabindex: 0, 'aria-label': 'Timeline' }, olderBtn, startNote, timeline);
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const editBanner = h('div', { class: 'edit-banner', hidden: true }, h('span', null, 'Editing your message. Enter saves, Escape cancels.'), h('button', { type: 'button', class: 'link-button', onclick: () => cancelEdit() }, 'Cancel edit'));
  const composerId = uid('composer');
  const composer = h('textarea', { id: composerId, rows: 1, placeholder: 'Message', autocomplete: 'off', maxlength: 20000 });
  const sendBtn = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const sendError = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'composer' }, h('label', { for: composerId, class: 'sr-only' }, 'Message'), composer, sendBtn);
  const noticesNote = h('p', { class: 'muted notices-note', hidden: true }, 'Notices from the server itself. Nobody can reply here.');
  const roomView = h('section', { class: 'room', hidden: true, 'aria-labelledby': 'room-title' },
    h('header', { class: 'room-header' },
      h('button', { type: 'button', class: 'back', 'aria-label': 'Back to rooms', onclick: () => showList() }, h('span', { 'aria-hidden': 'true' }, '‹ '), 'Rooms'),
      h('div', { class: 'room-title' }, title, topic),
      h('div', { class: 'room-buttons' }, inviteBtn, leaveBtn),
      members),
    scroller, typing, editBanner, sendError, form, noticesNote);
  const placeholder = h('div', { class: 'placeholder' }, h('p', null, 'Choose a room on the left, or create one.'));
  const main = h('main', { class: 'main' }, placeholder, roomView);
  const shell = h('div', { class: 'app' }, topbar, sidebar, main);
  replaceChildren(root, shell);

  // ---- room list ----
  const rows = new Map<string, { li: HTMLLIElement; button: HTMLButtonElement; name: HTMLElement; last: HTMLElement; badge: HTMLElement }>();
  function renderRooms(): void {
    const me = client.userId;
    const rooms = [...client.rooms.values()].sort((a, b) => Number(a.isNotices) - Number(b.isNotices) || b.lastActivity() - a.lastActivity());
    const keep = new Set<string>();
    let cursor = roomList.firstElementChild;
    let totalUnread = 0;
    for (const room of rooms) {
      keep.add(room.id);
      let row = rows.get(room.id);
      if (!row) {
        const name = h('span', { class: 'room-name' });
        const last = h('span', { class: 'room-last' });
        const badge = h('span', { class: 'badge' });
        const button = h('button', { type: 'button', class: 'room-item', onclick: () => openRoom(room.id) }, name, last, badge);
        row = { li: h('li', { 'data-room-id': room.id }, button), button, name, last, badge };
        rows.set(room.id, row);
      }
      row.name.textContent = room.displayName(me);
      const lm = room.lastMessage();
      row.last.textContent = lm ? preview(room, lm) : '';
      replaceChildren(row.badge, room.unread > 0 ? [String(room.unread), h('span', { class: 'sr-only' }, ' unread')] : null);
      row.badge.hidden = room.unread === 0;
      row.button.classList.toggle('unread', room.unread > 0);
      row.button.classList.toggle('notices', room.isNotices);
      if (room === current) row.button.setAttribute('aria-current', 'true');
      else row.button.removeAttribute('aria-current');
      totalUnread += room.unread;
      if (cursor !== row.li) roomList.insertBefore(row.li, cursor);
      else cursor = cursor.nextElementSibling;
    }
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        row.li.remove();
        rows.delete(id);
      }
    }
    noRooms.hidden = rooms.length > 0 || !client.ready;
    document.title = totalUnread > 0 ? `(${totalUnread}) Hearth` : 'Hearth';
    if (current && !client.rooms.has(current.id)) closeRoom();
    renderInvites();
  }

  function renderInvites(): void {
    const invites = [...client.invites.values()].sort((a, b) => b.ts - a.ts);
    invitesSection.hidden = invites.length === 0;
    replaceChildren(inviteList, invites.map((inv) => {
      const nameId = uid('invite');
      const accept = h('button', { type: 'button', class: 'primary', 'aria-describedby': nameId }, 'Accept');
      const reject = h('button', { type: 'button', 'aria-describedby': nameId }, 'Reject');
      const error = h('p', { class: 'error', role: 'alert' });
      const act = async (action: () => Promise<unknown>) => {
        accept.disabled = reject.disabled = true;
        try {
          await action();
        } catch (e) {
          error.textContent = errorText(e);
          accept.disabled = reject.disabled = false;
        }
      };
      accept.addEventListener('click', () => void act(async () => openSoon(await client.join(inv.roomId))));
      reject.addEventListener('click', () => void act(() => client.rejectInvite(inv.roomId)));
      return h('li', { class: 'invite', 'data-room-id': inv.roomId },
        h('strong', { id: nameId, class: 'invite-name' }, inv.name),
        h('span', { class: 'invite-from' }, inv.inviterName === inv.inviter ? `Invited by ${inv.inviter}` : `Invited by ${inv.inviterName} (${inv.inviter})`),
        inv.reason ? h('p', { class: 'invite-reason' }, h('span', { class: 'muted' }, 'Reason: '), h('q', null, inv.reason)) : null,
        inv.topic ? h('p', { class: 'muted' }, inv.topic) : null,
        h('div', { class: 'buttons' }, accept, reject),
        error);
    }));
  }

  // ---- the open room ----
  const itemEls = new Map<string, { li: HTMLLIElement; version: number; editable: boolean }>();

  function openSoon(roomId: string): void {
    if (client.rooms.has(roomId)) openRoom(roomId);
    else openWhenJoined = roomId;
  }

  function openRoom(roomId: string): void {
    const room = client.rooms.get(roomId);
    if (!room) return;
    if (current !== room) {
      client.stopTyping();
      cancelEdit();
      current = room;
      itemEls.clear();
      timeline.replaceChildren();
      composer.value = '';
      sendError.textContent = '';
      void client.loadMembers(room).catch(() => undefined);
    }
    placeholder.hidden = true;
    roomView.hidden = false;
    shell.classList.add('show-room');
    renderHeader();
    renderTimeline(true);
    renderTyping();
    renderRooms();
    if (wide()) composer.focus();
    else title.focus();
    markRead();
  }
  title.tabIndex = -1;

  function closeRoom(): void {
    current = undefined;
    roomView.hidden = true;
    placeholder.hidden = false;
    shell.classList.remove('show-room');
  }

  function showList(): void {
    shell.classList.remove('show-room');
    rows.get(current?.id ?? '')?.button.focus();
  }

  async function leaveCurrent(): Promise<void> {
    if (!current) return;
    try {
      await client.leave(current.id);
    } catch (e) {
      showError(errorText(e));
    }
  }

  function renderHeader(): void {
    if (!current) return;
    title.textContent = current.displayName(client.userId);
    topic.textContent = current.topic ?? '';
    topic.hidden = !current.topic;
    // Only the server posts in its notices room (its power levels give the user no say).
    inviteBtn.hidden = current.isNotices;
    form.hidden = current.isNotices;
    noticesNote.hidden = !current.isNotices;
    const joined = client.joinedMembers(current);
    const shown = joined.slice(0, 12);
    replaceChildren(members,
      shown.map((u) => h('li', { title: u }, presenceDot(client.presence.get(u)?.presence), current!.memberName(u))),
      joined.length > shown.length ? h('li', null, `and ${joined.length - shown.length} more`) : null);
  }

  function renderTimeline(toBottom = false): void {
    const room = current;
    if (!room) return;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
    const oldHeight = scroller.scrollHeight;
    const oldTop = scroller.scrollTop;
    const firstKey = (timeline.firstElementChild as HTMLElement | null)?.dataset.key;
    const keep = new Set<string>();
    let cursor = timeline.firstElementChild;
    for (const item of room.items) {
      keep.add(item.key);
      let el = itemEls.get(item.key);
      const editable = item === editing;
      if (!el) {
        el = { li: h('li'), version: -1, editable: false };
        itemEls.set(item.key, el);
      }
      if (el.version !== item.version || el.editable !== editable) {
        renderItem(el.li, room, item, { me: client.userId, onEdit: startEdit, onDelete: deleteItem });
        el.li.classList.toggle('editing', editable);
        el.version = item.version;
        el.editable = editable;
      }
      if (cursor !== el.li) timeline.insertBefore(el.li, cursor);
      else cursor = cursor.nextElementSibling;
    }
    for (const [key, el] of itemEls) {
      if (!keep.has(key)) {
        el.li.remove();
        itemEls.delete(key);
      }
    }
    olderBtn.hidden = room.atStart;
    startNote.hidden = !room.atStart;
    const prepended = firstKey !== undefined && (timeline.firstElementChild as HTMLElement | null)?.dataset.key !== firstKey;
    if (toBottom || (nearBottom && !prepended)) scroller.scrollTop = scroller.scrollHeight;
    else if (prepended) scroller.scrollTop = oldTop + (scroller.scrollHeight - oldHeight);
  }

  function renderTyping(): void {
    if (!current) return;
    const names = current.typing.filter((u) => u !== client.userId).map((u) => current!.memberName(u));
    typing.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : names.length <= 3 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…` : `${names.length} people are typing…`;
  }

  let loadingOlder = false;
  async function loadOlder(): Promise<void> {
    const room = current;
    if (!room || loadingOlder || room.atStart) return;
    loadingOlder = true;
    olderBtn.disabled = true;
    try {
      await client.loadOlder(room);
    } catch (e) {
      showError(`Could not load older messages: ${errorText(e)}`);
    } finally {
      loadingOlder = false;
      olderBtn.disabled = false;
    }
    // Still room to fill: keep going while the button is in view.
    if (room === current && !room.atStart && olderBtn.getBoundingClientRect().bottom > scroller.getBoundingClientRect().top) queueMicrotask(() => void loadOlder());
  }
  olderBtn.addEventListener('click', () => void loadOlder());
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) void loadOlder();
  }, { root: scroller }).observe(olderBtn);

  function markRead(): void {
    if (!shell.isConnected) {
      // this screen was replaced (logout): stop listening
      removeEventListener('focus', markRead);
      document.removeEventListener('visibilitychange', markRead);
      return;
    }
    if (!current || document.visibilityState !== 'visible' || !document.hasFocus()) return;
    if (!shell.classList.contains('show-room') && !wide()) return;
    void client.markRead(current).catch(() => undefined);
  }
  addEventListener('focus', markRead);
  document.addEventListener('visibilitychange', markRead);

  // ---- composing, editing, deleting ----
  function startEdit(item: Item): void {
    editing = item;
    composer.value = typeof item.content.body === 'string' ? item.content.body : '';
    editBanner.hidden = false;
    sendBtn.textContent = 'Save';
    renderTimeline();
    composer.focus();
    composer.setSelectionRange(composer.value.length, composer.value.length);
  }

  function cancelEdit(): void {
    if (!editing) return;
    editing = undefined;
    composer.value = '';
    editBanner.hidden = true;
    sendBtn.textContent = 'Send';
    renderTimeline();
  }

  function deleteItem(item: Item, button: HTMLButtonElement): void {
    if (button.dataset.confirm !== '1') {
      // A second click confirms; the button says so.
      button.dataset.confirm = '1';
      button.textContent = 'Confirm delete';
      setTimeout(() => {
        if (button.isConnected) {
          button.dataset.confirm = '';
          button.textContent = 'Delete';
        }
      }, 5000);
      return;
    }
    const room = current;
    if (!room) return;
    client.redact(room, item).then(() => composer.focus(), (e) => showError(`Could not delete: ${errorText(e)}`));
  }

  function showError(text: string): void {
    sendError.textContent = text;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const room = current;
    const text = composer.value.trim();
    if (!room || !text) return;
    sendError.textContent = '';
    const target = editing;
    composer.value = '';
    if (target) {
      cancelEdit();
      client.edit(room, target, text).catch((err) => showError(`Could not save the edit: ${errorText(err)}`));
    } else {
      client.sendText(room, text).catch((err) => showError(`Not sent: ${errorText(err)}`));
    }
  });
  composer.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === 'Escape' && editing) {
      e.preventDefault();
      cancelEdit();
    } else if (e.key === 'ArrowUp' && composer.value === '' && current) {
      const mine = [...current.items].reverse().find((i) => i.sender === client.userId && i.type === 'm.room.message' && i.eventId && !i.redacted && !i.pending);
      if (mine) {
        e.preventDefault();
        startEdit(mine);
      }
    }
  });
  composer.addEventListener('input', () => {
    if (current && !editing) client.typed(current, composer.value.trim() !== '');
  });
  composer.addEventListener('blur', () => client.stopTyping());

  // ---- log out ----
  async function logout(): Promise<void> {
    try {
      await client.logout();
    } catch {
      // logged out locally in any case
    }
    opts.onLogout('You have logged out.');
  }

  // ---- client events ----
  client.addEventListener('rooms', () => {
    renderRooms();
    if (openWhenJoined && client.rooms.has(openWhenJoined)) {
      const id = openWhenJoined;
      openWhenJoined = undefined;
      openRoom(id);
    } else if (current) renderHeader();
  });
  client.addEventListener('timeline', (e) => {
    if (current && (e as CustomEvent<string>).detail === current.id) {
      renderTimeline();
      markRead();
    }
  });
  client.addEventListener('typing', (e) => {
    if (current && (e as CustomEvent<string>).detail === current.id) renderTyping();
  });
  client.addEventListener('members', (e) => {
    if (current && (e as CustomEvent<string>).detail === current.id) {
      renderHeader();
      for (const el of itemEls.values()) el.version = -1; // names may have changed
      renderTimeline();
    }
  });
  client.addEventListener('presence', () => renderHeader());
  client.addEventListener('status', () => {
    status.textContent = client.status === 'online' ? '' : client.status === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
  });
  client.addEventListener('loggedout', () => {
    client.stop();
    opts.onLogout('You were logged out: this login is no longer valid. Log in again.');
  });
  // The top bar's own presence dot follows the user's presence.
  client.addEventListener('presence', () => {
    const dot = presenceDot(client.presence.get(client.userId)?.presence);
    $(topbar, '.me .dot').replaceWith(dot);
  });
}
