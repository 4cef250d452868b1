// SessionService on its own (spec/sessions.md): IDs, implicit sessions, expiry through the one
// deadline queue, and what a fresh service (a restart) knows.
import { FakeClock, type Clock } from '../../src/clock.js';
import { buildConfig } from '../../src/config.js';
import type { AuthContext } from '../../src/core/accounts/events.js';
import { DeadlineQueue } from '../../src/core/deadlines.js';
import { SESSION_EXPIRED, SessionService, type Session } from '../../src/core/sessions.js';
import { MatrixError } from '../../src/errors.js';

const config = buildConfig({ server_name: 'test.local', database: { path: ':memory:' } });
const meta = { ip: null, userAgent: null };
const auth = (userId: string, deviceId: string): AuthContext => ({ userId, deviceId, isGuest: false, isAdmin: false, tokenHash: `h-${userId}-${deviceId}` });
const ALICE = auth('@alice:test.local', 'ADEV');

function make(clock: Clock = new FakeClock()) {
  const deadlines = new DeadlineQueue(clock);
  const sessions = new SessionService(config, clock, deadlines);
  const ended: { id: string; reason: string }[] = [];
  sessions.addListener({ sessionEnded: (s, reason) => ended.push({ id: s.id, reason }) });
  return { sessions, deadlines, ended };
}

function refused(fn: () => unknown): MatrixError {
  try {
    fn();
  } catch (e) {
    if (e instanceof MatrixError) return e;
    throw e;
  }
  throw new Error('expected a MatrixError');
}

describe('SessionService', () => {
  it('defaults: sessions idle 60 s, presence idle 300 s, typing capped at 120 s', () => {
    expect(config.sessions.idle_timeout_ms).toBe(60_000);
    expect(config.presence.idle_timeout_ms).toBe(300_000);
    expect(config.presence.enabled).toBe(true);
    expect(config.typing.max_timeout_ms).toBe(120_000);
  });

  it('session IDs are UUIDv7 from the injected clock: unique over 10,000 and in start order', () => {
    const clock = new FakeClock();
    const { sessions } = make(clock);
    const ids = new Set<string>();
    const inOrder: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 1000 === 0) clock.advance(1);
      const s = sessions.start(ALICE);
      expect(s.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(s.id);
      inOrder.push(s.id);
    }
    expect(ids.size).toBe(10_000);
    expect([...inOrder].sort()).toEqual(inOrder);
    // The first 48 bits are the clock's millisecond.
    expect(parseInt(inOrder[0]!.replace(/-/g, '').slice(0, 12), 16)).toBe(clock.now() - 9);
    // After the time part, random: the last 12 hex digits of 100 consecutive IDs all differ.
    const tails = new Set(inOrder.slice(0, 100).map((id) => id.slice(-12)));
    expect(tails.size).toBe(100);
  });

  it('a request naming no session uses the device\'s active session, and there is one per device', () => {
    const { sessions } = make();
    const a = sessions.resolve(ALICE, undefined, meta);
    for (let i = 0; i < 20; i++) expect(sessions.resolve(ALICE, undefined, meta)).toBe(a);
    const other = sessions.resolve(auth(ALICE.userId, 'OTHER'), undefined, meta);
    expect(other.id).not.toBe(a.id);
    expect(sessions.list(ALICE.userId).map((s) => s.id).sort()).toEqual([a.id, other.id].sort());
  });

  it('after the active session ends, the device\'s most recently used live session takes over', () => {
    const clock = new FakeClock();
    const { sessions } = make(clock);
    const s1 = sessions.start(ALICE);
    clock.advance(1000);
    const s2 = sessions.start(ALICE);
    clock.advance(1000);
    expect(sessions.resolve(ALICE, s1.id, meta)).toBe(s1);
    sessions.begin(s1, meta)();
    clock.advance(1000);
    const s3 = sessions.start(ALICE); // now the active one
    sessions.end(s3, 'ended');
    // s1 was used after s2: it is the device's most recently used live session.
    expect(sessions.resolve(ALICE, undefined, meta)).toBe(s1);
    expect(sessions.list(ALICE.userId).map((s) => s.id).sort()).toEqual([s1.id, s2.id].sort());
  });

  it('ends an idle session through the deadline queue, and a touched one lives on', () => {
    const clock = new FakeClock();
    const { sessions, ended } = make(clock);
    const idle = sessions.start(ALICE);
    const busy = sessions.start(auth(ALICE.userId, 'BUSY'));
    clock.advance(59_000);
    sessions.begin(busy, meta)();
    clock.advance(1_000);
    expect(ended).toEqual([{ id: idle.id, reason: 'expired' }]);
    expect(sessions.store.get(idle.id)).toBeUndefined();
    expect(sessions.store.get(busy.id)).toBe(busy);
    clock.advance(59_000);
    expect(ended.map((e) => e.id)).toEqual([idle.id, busy.id]);
  });

  it('a request in flight keeps its session alive past the idle timeout until it is done', () => {
    const clock = new FakeClock();
    const { sessions, ended } = make(clock);
    const s = sessions.start(ALICE);
    const done = sessions.begin(s, meta);
    clock.advance(200_000);
    expect(ended).toEqual([]);
    expect(sessions.expiresInMs(s)).toBe(60_000);
    done();
    clock.advance(59_999);
    expect(ended).toEqual([]);
    clock.advance(1);
    expect(ended).toEqual([{ id: s.id, reason: 'expired' }]);
  });

  it('a session past its idle time is never revived by a request, even when timers run late', () => {
    // A clock whose timers never fire: only the re-check on use can notice the expiry.
    let now = 1_700_000_000_000;
    const stalled: Clock = { now: () => now, setTimer: () => ({ cancel() {} }) };
    const { sessions, ended } = make(stalled);
    const s = sessions.start(ALICE);
    now += 60_000;
    const err = refused(() => sessions.resolve(ALICE, s.id, meta));
    expect(err.status).toBe(410);
    expect(err.errcode).toBe(SESSION_EXPIRED);
    expect(ended).toEqual([{ id: s.id, reason: 'expired' }]);
    const fresh = (err.extra as { session_id: string }).session_id;
    expect(fresh).not.toBe(s.id);
    // Implicit use skips an overdue active session as well.
    now += 60_000;
    const next = sessions.resolve(ALICE, undefined, meta);
    expect(next.id).not.toBe(fresh);
    expect(ended.map((e) => e.id)).toEqual([s.id, fresh]);
  });

  it('refuses a session of another user or device with 410 and a new session, leaving the owner\'s untouched', () => {
    const clock = new FakeClock();
    const { sessions, ended } = make(clock);
    const bob = auth('@bob:test.local', 'BDEV');
    const owner = sessions.start(bob);
    const before: Session = { ...owner };
    clock.advance(5000);
    for (const caller of [ALICE, auth(bob.userId, 'BOTHER')]) {
      const err = refused(() => sessions.resolve(caller, owner.id, meta));
      expect(err.status).toBe(410);
      expect(err.errcode).toBe(SESSION_EXPIRED);
      const freshId = (err.extra as { session_id: string }).session_id;
      expect(err.headers['Hearth-Session']).toBe(freshId);
      const fresh = sessions.store.get(freshId)!;
      expect(fresh.userId).toBe(caller.userId);
      expect(fresh.deviceId).toBe(caller.deviceId);
    }
    expect(sessions.store.get(owner.id)).toEqual(before);
    expect(sessions.store.activeForDevice(bob.userId, bob.deviceId)).toBe(owner);
    expect(ended).toEqual([]);
  });

  it('endOwn: another user\'s session and an unknown one get the same 404', () => {
    const { sessions } = make();
    const bobs = sessions.start(auth('@bob:test.local', 'BDEV'));
    for (const id of [bobs.id, 'no-such-session']) {
      const err = refused(() => sessions.endOwn(ALICE, id));
      expect(err.status).toBe(404);
      expect(err.errcode).toBe('M_NOT_FOUND');
      expect(err.message).toBe('No such session');
    }
    expect(sessions.store.get(bobs.id)).toBe(bobs);
  });

  it('a new service (a restart) has no sessions: nobody is online until they make a request', () => {
    const clock = new FakeClock();
    const first = make(clock);
    const s = first.sessions.start(ALICE);
    const second = make(clock);
    expect(second.sessions.store.size).toBe(0);
    expect(second.sessions.list(ALICE.userId)).toEqual([]);
    const err = refused(() => second.sessions.resolve(ALICE, s.id, meta));
    expect(err.status).toBe(410);
    expect(err.errcode).toBe(SESSION_EXPIRED);
  });

  it('100,000 live sessions use one timer', () => {
    const clock = new FakeClock();
    let timers = 0;
    const counting: Clock = { now: () => clock.now(), setTimer: (fn, ms) => { timers++; return clock.setTimer(fn, ms); } };
    const { sessions, deadlines } = make(counting);
    for (let i = 0; i < 100_000; i++) sessions.start(auth(`@u${i}:test.local`, 'D'));
    expect(sessions.store.size).toBe(100_000);
    expect(deadlines.size).toBe(100_000);
    expect(timers).toBe(1);
  });
});
