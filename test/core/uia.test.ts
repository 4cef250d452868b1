// UiaService across the processes of a cluster (spec/scaling.md): sessions started, advanced and ended
// on one process are what the others continue, through a ReplicaLink (here two services wired to each
// other in memory, the way the Redis bus carries the messages in order).
import type { ReplicaLink } from '../../src/core/replica.js';
import { UiaService, type UiaChange, type UiaFlow } from '../../src/core/uia.js';
import { FakeClock } from '../../src/clock.js';

function linked(): [ReplicaLink<UiaChange>, ReplicaLink<UiaChange>] {
  const handlers: ((c: UiaChange) => void)[][] = [[], []];
  const end = (me: number): ReplicaLink<UiaChange> => ({
    send: (c) => { for (const h of handlers[1 - me]!) h(JSON.parse(JSON.stringify(c)) as UiaChange); },
    onReceive: (fn) => { handlers[me]!.push(fn); },
  });
  return [end(0), end(1)];
}

/** Two processes' UIA services, each hearing the other's changes. */
function twoProcesses(): [UiaService, UiaService] {
  const clock = new FakeClock(1_000_000);
  const a = new UiaService(clock);
  const b = new UiaService(clock);
  const [la, lb] = linked();
  a.share(la);
  b.share(lb);
  return [a, b];
}

const DUMMY: UiaFlow[] = [{ stages: ['m.login.dummy'] }];
const TWO: UiaFlow[] = [{ stages: ['m.login.registration_token', 'm.login.dummy'] }];

async function challenge(p: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { httpStatus?: number; status?: number; errcode?: string; body?: Record<string, unknown>; extra?: Record<string, unknown> };
    return { status: err.httpStatus ?? err.status ?? 0, body: { errcode: err.errcode, ...(err.body ?? err.extra ?? {}) } };
  }
  throw new Error('expected a challenge');
}

describe('UiaService shared between processes', () => {
  it('continues on B a session started on A, and ends it on both', async () => {
    const [a, b] = twoProcesses();
    const first = await challenge(a.authenticate('register', undefined, DUMMY, { userId: null }));
    expect(first.status).toBe(401);
    const session = first.body.session as string;
    await expect(b.authenticate('register', { type: 'm.login.dummy', session }, DUMMY, { userId: null })).resolves.toEqual({});
    const again = await challenge(a.authenticate('register', { type: 'm.login.dummy', session }, DUMMY, { userId: null }));
    expect(again.status).toBe(400);
    expect(again.body.errcode).toBe('M_UNKNOWN');
  });

  it('shows on A the stages completed on B, and gives back A\'s token reservation when B ends the session', async () => {
    const [a, b] = twoProcesses();
    const released: string[] = [];
    const tokens = { reserve: async (t: unknown) => t === 'good', release: (t: string) => { released.push(t); } };
    const first = await challenge(a.authenticate('register', undefined, TWO, { userId: null }));
    const session = first.body.session as string;
    const afterToken = await challenge(a.authenticate('register', { type: 'm.login.registration_token', token: 'good', session }, TWO, { userId: null, registrationTokens: tokens }));
    expect(afterToken.body.completed).toEqual(['m.login.registration_token']);
    // B knows the stage A completed, and completes the flow with the token A reserved.
    await expect(b.authenticate('register', { type: 'm.login.dummy', session }, TWO, { userId: null })).resolves.toEqual({ registrationToken: 'good' });
    expect(released).toEqual(['good']);
  });

  it('refuses on B a session of another user or purpose', async () => {
    const [a, b] = twoProcesses();
    const session = (await challenge(a.authenticate('delete_device', undefined, DUMMY, { userId: '@u:x' }))).body.session as string;
    const wrong = await challenge(b.authenticate('delete_device', { type: 'm.login.dummy', session }, DUMMY, { userId: '@v:x' }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.errcode).toBe('M_UNKNOWN');
  });
});
