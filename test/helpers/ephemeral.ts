// Helpers for the session, presence and typing tests (spec/sessions.md): naming sessions, rooms,
// and long-polling /sync that is known to be waiting before the test acts.
import type { Response } from 'supertest';
import { bearer, settleServers, type TestServer, type TestUser } from './server.js';

export const SESSIONS = '/_matrix/client/unstable/hearth/sessions';
export const HEADER = 'hearth-session';
export const enc = encodeURIComponent;

type Auth = { accessToken: string };

/** Lets pending promise chains (presence recomputes, typing changes) run to the end. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  await settleServers();
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

/** Polls a condition on real time (for async hand-offs only; timeouts use the fake clock). */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Headers for a request with a token and, optionally, a named session. */
export function as(user: Auth, session?: string): Record<string, string> {
  return session === undefined ? bearer(user) : { ...bearer(user), 'Hearth-Session': session };
}

export async function startSession(s: TestServer, user: Auth, body: Record<string, unknown> = {}): Promise<string> {
  const res = await s.http.post(SESSIONS).set(bearer(user)).send(body);
  if (res.status !== 200) throw new Error(`start session failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.session_id as string;
}

export async function listSessions(s: TestServer, user: Auth, session?: string): Promise<{ session_id: string; device_id: string; presence: string; created_ts: number; last_seen_ts: number; expires_in_ms: number }[]> {
  const res = await s.http.get(SESSIONS).set(as(user, session));
  if (res.status !== 200) throw new Error(`list sessions failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.sessions;
}

export async function createRoom(s: TestServer, user: Auth, session?: string): Promise<string> {
  const res = await s.http.post('/_matrix/client/v3/createRoom').set(as(user, session)).send({ preset: 'public_chat' });
  if (res.status !== 200) throw new Error(`createRoom failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.room_id as string;
}

export async function join(s: TestServer, user: Auth, roomId: string, session?: string): Promise<void> {
  const res = await s.http.post(`/_matrix/client/v3/join/${enc(roomId)}`).set(as(user, session)).send({});
  if (res.status !== 200) throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function login(s: TestServer, user: TestUser, deviceId?: string): Promise<TestUser> {
  const localpart = user.userId.slice(1, user.userId.indexOf(':'));
  const res = await s.http.post('/_matrix/client/v3/login').send({
    type: 'm.login.password', identifier: { type: 'm.id.user', user: localpart }, password: user.password,
    ...(deviceId ? { device_id: deviceId } : {}),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, password: user.password };
}

let txn = 0;
export async function sendText(s: TestServer, user: Auth, roomId: string, body: string, session?: string): Promise<Response> {
  return s.http.put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`).set(as(user, session)).send({ msgtype: 'm.text', body });
}

/** A sync with no since: returns at once; its next_batch is the starting point of long polls. */
export async function initialSync(s: TestServer, user: Auth, session?: string): Promise<string> {
  await flush();
  const res = await s.http.get('/_matrix/client/v3/sync?timeout=0').set(as(user, session));
  if (res.status !== 200) throw new Error(`sync failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.next_batch as string;
}

/**
 * Starts an incremental /sync and resolves once it is waiting in the notifier, so whatever the test
 * does next reaches this very request (no new request is made to see it).
 */
export async function longPoll(s: TestServer, user: Auth, since: string, opts: { timeout?: number; session?: string } = {}): Promise<{ result: Promise<Response> }> {
  const before = s.services.notifier.waiting;
  const p = s.http.get(`/_matrix/client/v3/sync?since=${enc(since)}&timeout=${opts.timeout ?? 100_000}`).set(as(user, opts.session)).then((r) => r);
  let settled = false;
  void p.then(() => { settled = true; }, () => { settled = true; });
  await until(() => settled || s.services.notifier.waiting > before, 'the sync to wait');
  if (settled) throw new Error(`the sync returned at once: ${JSON.stringify((await p).body)}`);
  return { result: p };
}

export interface PresenceEvent { type: string; sender: string; content: { presence: string; last_active_ago?: number; currently_active?: boolean; status_msg?: string } }

export function presenceOf(body: { presence?: { events: PresenceEvent[] } }, sender: string): PresenceEvent[] {
  return (body.presence?.events ?? []).filter((e) => e.sender === sender);
}

export function typingIn(body: { rooms?: { join?: Record<string, { ephemeral: { events: Record<string, unknown>[] } }> } }, roomId: string): Record<string, unknown>[] {
  return (body.rooms?.join?.[roomId]?.ephemeral.events ?? []).filter((e) => e.type === 'm.typing');
}
