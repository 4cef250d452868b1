// Hearth and a real Synapse 1.163 (test/helpers/synapse.ts) exchanging EDUs (issue 16; spec/federation.md
// "EDUs"): typing, presence, read receipts and to-device messages both ways in a room held by Synapse
// (room version 12, Synapse's default); Hearth's hearth.server_event, which Synapse does not know, is
// ignored by it without disturbing what follows.
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { MatrixHttpClient } from '../helpers/matrix-http.js';
import { freePort } from '../helpers/net.js';
import { startSynapse, SYNAPSE_START_TIMEOUT_MS, type Synapse } from '../helpers/synapse.js';
import { makeSelfSignedCertificate } from '../helpers/tls.js';

jest.setTimeout(90_000);

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
type Ev = Record<string, any>;

/** A client that keeps its /sync position, for waiting on what arrives next. */
class Syncer {
  since?: string;
  constructor(readonly client: MatrixHttpClient, readonly name: string) {}

  async until<T>(what: string, check: (body: Ev) => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} in ${this.name}'s /sync`);
      const body = await this.client.sync(this.since ? { since: this.since, timeout: Math.min(3000, left) } : { timeout: 0 }) as Ev;
      this.since = body.next_batch;
      const v = check(body);
      if (v) return v;
    }
  }
}

const ephemeral = (b: Ev, roomId: string): Ev[] => b.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
const typingIn = (b: Ev, roomId: string): string[] | undefined => ephemeral(b, roomId).find((e) => e.type === 'm.typing')?.content.user_ids;
const receiptIn = (b: Ev, roomId: string): Ev | undefined => ephemeral(b, roomId).find((e) => e.type === 'm.receipt')?.content;
const presenceOf = (b: Ev, userId: string): Ev | undefined => (b.presence?.events as Ev[] | undefined)?.filter((e) => e.sender === userId).at(-1)?.content;
const timeline = (b: Ev, roomId: string): Ev[] => b.rooms?.join?.[roomId]?.timeline?.events ?? [];
const toDevice = (b: Ev): Ev[] | undefined => ((b.to_device?.events ?? []) as Ev[]).length > 0 ? b.to_device.events : undefined;

describe('Hearth and Synapse exchange EDUs', () => {
  const cert = makeSelfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-interop-edus-'));
  let synapse: Synapse;
  let hearth: RunningServer;
  let hearthName = '';
  let alice: { client: MatrixHttpClient; userId: string; deviceId: string; sync: Syncer };
  let bob: { client: MatrixHttpClient; userId: string; deviceId: string; sync: Syncer };
  let roomId: string;

  beforeAll(async () => {
    synapse = await startSynapse({ label: 'synapse-edus' });
    const port = await freePort();
    hearthName = `localhost:${port}`;
    hearth = await startServer(buildConfig({
      server_name: hearthName,
      listen: { host: '127.0.0.1', port: 0 },
      database: { path: join(dir, 'hearth.db') },
      logging: { level: process.env.HEARTH_TEST_LOG ?? 'silent' },
      rate_limits: { enabled: false },
      federation: {
        enabled: true, listen: { host: '127.0.0.1', port },
        tls_certificate_path: cert.certPath, tls_private_key_path: cert.keyPath, verify_certificates: false,
      },
      ip_range_whitelist: ['127.0.0.1', '::1'],
    }), { federation: { sender: { initialBackoffMs: 500, maxBackoffMs: 2000 } } });
    const s = await synapse.registerUser('alice');
    alice = { client: s.client, userId: s.userId, deviceId: s.deviceId, sync: new Syncer(s.client, `${s.userId} (Synapse)`) };
    const anon = new MatrixHttpClient(hearth.url);
    const reg = await anon.ok<{ user_id: string; access_token: string; device_id: string }>('POST', `${C}/register`, {
      body: { username: 'bob', password: 'a long password', auth: { type: 'm.login.dummy' } },
    });
    const client = anon.as({ userId: reg.user_id, accessToken: reg.access_token });
    bob = { client, userId: reg.user_id, deviceId: reg.device_id, sync: new Syncer(client, `${reg.user_id} (Hearth)`) };
    roomId = await alice.client.createRoom({ preset: 'public_chat', name: 'EDUs with Synapse' });
    await alice.sync.until('the first sync', () => true);
    await bob.sync.until('the first sync', () => true);
    expect(await bob.client.join(roomId, [synapse.serverName])).toBe(roomId);
    await alice.sync.until('bob\'s join', (b) => timeline(b, roomId).some((e) => e.type === 'm.room.member' && e.state_key === bob.userId));
  }, SYNAPSE_START_TIMEOUT_MS);
  afterAll(async () => {
    await hearth?.stop();
    await synapse?.stop();
    rmSync(dir, { recursive: true, force: true });
    cert.remove();
  });

  const setTyping = (u: typeof alice, typing: boolean) =>
    u.client.ok('PUT', `${C}/rooms/${enc(roomId)}/typing/${enc(u.userId)}`, { body: typing ? { typing, timeout: 30_000 } : { typing } });

  it('typing goes both ways, and its end', async () => {
    await setTyping(alice, true);
    await bob.sync.until('alice typing', (b) => typingIn(b, roomId)?.includes(alice.userId));
    await setTyping(alice, false);
    await bob.sync.until('alice no longer typing', (b) => { const t = typingIn(b, roomId); return t !== undefined && !t.includes(alice.userId); });
    await setTyping(bob, true);
    await alice.sync.until('bob typing', (b) => typingIn(b, roomId)?.includes(bob.userId));
    await setTyping(bob, false);
    await alice.sync.until('bob no longer typing', (b) => { const t = typingIn(b, roomId); return t !== undefined && !t.includes(bob.userId); });
  });

  it('presence goes both ways, with the status message', async () => {
    await alice.client.ok('PUT', `${C}/presence/${enc(alice.userId)}/status`, { body: { presence: 'online', status_msg: 'on Synapse' } });
    const a = await bob.sync.until('alice\'s presence', (b) => { const p = presenceOf(b, alice.userId); return p?.status_msg === 'on Synapse' ? p : undefined; });
    expect(a.presence).toBe('online');
    expect((await bob.client.ok('GET', `${C}/presence/${enc(alice.userId)}/status`)).status_msg).toBe('on Synapse');
    await bob.client.ok('PUT', `${C}/presence/${enc(bob.userId)}/status`, { body: { presence: 'unavailable', status_msg: 'on Hearth' } });
    const b2 = await alice.sync.until('bob\'s presence', (b) => { const p = presenceOf(b, bob.userId); return p?.status_msg === 'on Hearth' ? p : undefined; });
    expect(b2.presence).toBe('unavailable');
  });

  it('read receipts go both ways', async () => {
    const fromAlice = await alice.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'read me, Hearth' });
    await bob.sync.until('alice\'s message', (b) => timeline(b, roomId).some((e) => e.event_id === fromAlice));
    await bob.client.ok('POST', `${C}/rooms/${enc(roomId)}/receipt/m.read/${enc(fromAlice)}`, { body: {} });
    await alice.sync.until('bob\'s receipt', (b) => receiptIn(b, roomId)?.[fromAlice]?.['m.read']?.[bob.userId]);
    const fromBob = await bob.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'read me, Synapse' });
    await alice.sync.until('bob\'s message', (b) => timeline(b, roomId).some((e) => e.event_id === fromBob));
    await alice.client.ok('POST', `${C}/rooms/${enc(roomId)}/receipt/m.read/${enc(fromBob)}`, { body: {} });
    await bob.sync.until('alice\'s receipt', (b) => receiptIn(b, roomId)?.[fromBob]?.['m.read']?.[alice.userId]);
  });

  it('to-device messages go both ways', async () => {
    await bob.client.ok('PUT', `${C}/sendToDevice/org.example.whisper/h1`, { body: { messages: { [alice.userId]: { [alice.deviceId]: { text: 'from Hearth' } } } } });
    const got = await alice.sync.until('bob\'s whisper', toDevice);
    expect(got).toEqual([expect.objectContaining({ sender: bob.userId, type: 'org.example.whisper', content: { text: 'from Hearth' } })]);
    await alice.client.ok('PUT', `${C}/sendToDevice/org.example.whisper/s1`, { body: { messages: { [bob.userId]: { '*': { text: 'from Synapse' } } } } });
    const back = await bob.sync.until('alice\'s whisper', toDevice);
    expect(back).toEqual([{ sender: alice.userId, type: 'org.example.whisper', content: { text: 'from Synapse' } }]);
  });

  it('Synapse ignores a hearth.server_event; what follows arrives as before', async () => {
    await hearth.services.notices.roomEvent(roomId, 'm.room.message', { msgtype: 'm.notice', body: 'Only Hearth users see this' });
    const after = await bob.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'still here' });
    const seen = await alice.sync.until('the message after it', (b) => timeline(b, roomId).some((e) => e.event_id === after) ? b : undefined);
    expect(timeline(seen, roomId).some((e) => e.content?.body === 'Only Hearth users see this')).toBe(false);
  });
});
