// Modal dialogs (<dialog>: focus stays inside, Escape closes, focus returns to the opener):
// create room, join, room directory, invite with a reason, and this user's sessions.
import { MatrixError } from '../api.js';
import type { Client, SessionInfo } from '../client.js';
import { append, formatTime, h, replaceChildren, uid, type Child } from '../dom.js';

export interface DialogParts {
  dialog: HTMLDialogElement;
  form: HTMLFormElement;
  error: HTMLParagraphElement;
  close(): void;
}

/** A dialog with a title, fields and a row of buttons; removed from the page when it closes. */
export function openDialog(title: string, build: (p: DialogParts) => { body: Child[]; buttons: Child[] }): DialogParts {
  const titleId = uid('dialog-title');
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
  const form = h('form', { class: 'dialog-form', novalidate: true });
  const error = h('p', { class: 'error', role: 'alert' });
  const parts: DialogParts = { dialog, form, error, close: () => dialog.close() };
  const { body, buttons } = build(parts);
  form.append(h('h2', { id: titleId }, title));
  append(form, body);
  form.append(error, h('div', { class: 'buttons' }, buttons, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')));
  dialog.append(form);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return parts;
}

export const errorText = (e: unknown) => (e instanceof MatrixError ? e.message || e.errcode : e instanceof Error ? e.message : String(e));

function field(label: string, input: HTMLInputElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const id = input.id || (input.id = uid('field'));
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('span', { class: 'hint', id: hintId }, hint) : null);
}

/** Runs the action with the form busy; errors show in the dialog. */
async function busy(p: DialogParts, action: () => Promise<void>): Promise<void> {
  p.error.textContent = '';
  const buttons = [...p.form.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  p.form.setAttribute('aria-busy', 'true');
  try {
    await action();
  } catch (e) {
    p.error.textContent = errorText(e);
  } finally {
    for (const b of buttons) b.disabled = false;
    p.form.removeAttribute('aria-busy');
  }
}

export function createRoomDialog(client: Client, opened: (roomId: string) => void): void {
  const name = h('input', { required: true, maxlength: 255 });
  const topic = h('input', { maxlength: 1000 });
  const alias = h('input', { autocapitalize: 'none', spellcheck: 'false', pattern: '[a-z0-9._=\\-/]+' });
  const publish = h('input', { type: 'checkbox', id: uid('publish') });
  openDialog('Create a room', (p) => {
    p.form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!name.value.trim()) {
        p.error.textContent = 'Give the room a name.';
        name.focus();
        return;
      }
      void busy(p, async () => {
        const roomId = await client.createRoom({ name: name.value.trim(), topic: topic.value.trim(), alias: alias.value.trim().replace(/^#/, '').split(':')[0]!, publish: publish.checked });
        p.close();
        opened(roomId);
      });
    });
    return {
      body: [
        field('Room name', name),
        field('Topic (optional)', topic),
        field('Address (optional)', alias, `Lower-case letters and digits; the room becomes #address:${client.serverName}`),
        h('div', { class: 'check' }, publish, h('label', { for: publish.id }, 'Public: anyone can find it in the room directory and join')),
      ],
      buttons: [h('button', { type: 'submit', class: 'primary' }, 'Create room')],
    };
  });
  name.focus();
}

export function joinDialog(client: Client, opened: (roomId: string) => void): void {
  const target = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false', placeholder: `#room:${client.serverName}` });
  openDialog('Join a room', (p) => {
    p.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = target.value.trim();
      if (!/^[#!].+:.+$/.test(v)) {
        p.error.textContent = 'Enter a room ID (!id:server) or an alias (#name:server).';
        target.focus();
        return;
      }
      void busy(p, async () => {
        const roomId = await client.join(v);
        p.close();
        opened(roomId);
      });
    });
    return { body: [field('Room ID or alias', target)], buttons: [h('button', { type: 'submit', class: 'primary' }, 'Join')] };
  });
  target.focus();
}

export function directoryDialog(client: Client, opened: (roomId: string) => void): void {
  const search = h('input', { type: 'search' });
  const list = h('ul', { class: 'directory', 'aria-live': 'polite' });
  let parts: DialogParts;
  const load = () => busy(parts, async () => {
    const res = await client.publicRooms(search.value.trim());
    const rooms = res.chunk ?? [];
    replaceChildren(list, rooms.length === 0 ? h('li', { class: 'empty' }, 'No public rooms found.') : null, rooms.map((r) => {
      const nameId = uid('dir-room');
      const joined = client.rooms.has(r.room_id);
      return h('li', { class: 'directory-room' },
        h('div', { class: 'directory-text' },
          h('strong', { id: nameId }, r.name || r.canonical_alias || r.room_id),
          r.canonical_alias && r.name ? h('span', { class: 'muted' }, ` ${r.canonical_alias}`) : null,
          r.topic ? h('p', { class: 'muted' }, r.topic) : null,
          h('span', { class: 'muted' }, `${r.num_joined_members ?? 0} member${r.num_joined_members === 1 ? '' : 's'}`)),
        h('button', {
          type: 'button', 'aria-describedby': nameId,
          onclick: () => void busy(parts, async () => {
            const roomId = joined ? r.room_id : await client.join(r.room_id);
            parts.close();
            opened(roomId);
          }),
        }, joined ? 'Open' : 'Join'));
    }));
  });
  parts = openDialog('Public rooms', (p) => {
    p.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void load();
    });
    return {
      body: [h('div', { class: 'search-row' }, field('Search rooms', search), h('button', { type: 'submit' }, 'Search')), list],
      buttons: [],
    };
  });
  search.focus();
  void load();
}

export function inviteDialog(client: Client, roomId: string, roomName: string): void {
  const user = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false', placeholder: `@name:${client.serverName}` });
  const reason = h('textarea', { rows: 3, maxlength: 512 });
  openDialog(`Invite to ${roomName}`, (p) => {
    p.form.addEventListener('submit', (e) => {
      e.preventDefault();
      let target = user.value.trim();
      if (target && !target.startsWith('@')) target = `@${target}`;
      if (target && !target.includes(':')) target = `${target}:${client.serverName}`;
      if (!/^@[^:]+:.+$/.test(target)) {
        p.error.textContent = `Enter a user ID, such as @name:${client.serverName}.`;
        user.focus();
        return;
      }
      void busy(p, async () => {
        await client.invite(roomId, target, reason.value.trim() || undefined);
        p.close();
      });
    });
    return {
      body: [field('User ID', user), field('Reason (optional)', reason, 'Shown to them with the invite, before they accept.')],
      buttons: [h('button', { type: 'submit', class: 'primary' }, 'Invite')],
    };
  });
  user.focus();
}

/** The short form of a session ID: its random tail (UUIDv7s of one minute share their first digits). */
export const shortSession = (id: string) => id.slice(-8);

export function sessionsDialog(client: Client): void {
  const list = h('ul', { class: 'sessions' });
  let parts: DialogParts;
  const render = (sessions: SessionInfo[]) => {
    replaceChildren(list, sessions.length === 0 ? h('li', { class: 'empty' }, 'No live sessions.') : null, sessions.map((s) => {
      const mine = s.session_id === client.sessionId;
      const labelId = uid('session');
      return h('li', { class: `session${mine ? ' current' : ''}`, 'data-session-id': s.session_id },
        h('div', { class: 'session-text' },
          h('strong', { id: labelId }, `Session …${shortSession(s.session_id)}`, mine ? h('span', { class: 'tag' }, 'this tab') : null),
          h('span', { class: 'muted' }, `Device ${s.device_id}${s.device_id === client.api.creds?.deviceId ? ' (this browser)' : ''} · ${s.presence === 'offline' ? 'appears offline' : s.presence}`),
          h('span', { class: 'muted' }, `Started ${formatTime(s.created_ts)} · last request ${formatTime(s.last_seen_ts)}`)),
        h('button', {
          type: 'button', class: 'danger', 'aria-describedby': labelId,
          onclick: () => void busy(parts, async () => {
            await client.endSession(s.session_id);
            await refresh();
          }),
        }, 'End session'));
    }));
  };
  const refresh = async () => render(await client.listSessions());
  parts = openDialog('Sessions', (p) => {
    p.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(p, refresh);
    });
    return {
      body: [
        h('p', { class: 'muted' }, 'Every open tab or app of your account is a session. Typing and presence belong to a session: ending one ends them. A session also ends after a minute without requests. A tab whose session was ended gets a new one with its next request.'),
        list,
      ],
      buttons: [h('button', { type: 'submit' }, 'Refresh')],
    };
  });
  void busy(parts, refresh);
}
