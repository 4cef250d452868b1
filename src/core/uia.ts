// User-interactive authentication (matrix-spec: client-server-api "User-interactive authentication API").
// Sessions are ephemeral, single-purpose (bound to the operation and, when authenticated, to the user)
// and single-use: once a flow completes the session is gone.
import type { Clock } from '../clock.js';
import { badJson, MatrixError, uiaRequired } from '../errors.js';
import { randomToken } from './ids.js';
import type { ReplicaLink } from './replica.js';

export type UiaStage = 'm.login.dummy' | 'm.login.password' | 'm.login.registration_token';

export interface UiaFlow {
  stages: UiaStage[];
}

interface UiaSession {
  purpose: string;
  userId: string | null;
  completed: Set<UiaStage>;
  expiresTs: number;
  /** The registration token this session holds a pending use of (m.login.registration_token). */
  registrationToken?: string;
  /** Gives back what the session holds when it is dropped unfinished (expiry). */
  release?: () => void;
}

/** Checks a password stage; returns true when the credentials are right for `userId`. */
export type PasswordCheck = (auth: Record<string, unknown>, userId: string) => Promise<boolean>;

/** The m.login.registration_token stage: a pending use of a valid token is taken, and given back. */
export interface RegistrationTokenStage {
  reserve(token: unknown): Promise<boolean>;
  release(token: string): void;
}

/** What a completed flow leaves to its caller. */
export interface UiaResult {
  /** The registration token whose pending use the caller now owns: complete it or release it. */
  registrationToken?: string;
}

const SESSION_LIFETIME_MS = 15 * 60 * 1000;

/**
 * A session's change as the other processes of a cluster receive it (spec/scaling.md): the whole
 * session after it changed, or its end. A client's next step may reach any process.
 */
export type UiaChange =
  | { op: 'set'; id: string; purpose: string; userId: string | null; completed: UiaStage[]; expiresTs: number; registrationToken?: string }
  | { op: 'del'; id: string };

export class UiaService {
  private sessions = new Map<string, UiaSession>();
  private link: ReplicaLink<UiaChange> | undefined;

  constructor(private readonly clock: Clock) {}

  /**
   * Several processes: sessions are kept in every process. A session ended elsewhere gives back the
   * registration-token use this process reserved for it (the process that completes a registration
   * counts the use as completed in the database).
   */
  share(link: ReplicaLink<UiaChange>): void {
    this.link = link;
    link.onReceive((c) => {
      const current = this.sessions.get(c.id);
      if (c.op === 'del') {
        this.sessions.delete(c.id);
        current?.release?.();
        return;
      }
      this.sessions.set(c.id, {
        purpose: c.purpose, userId: c.userId, completed: new Set(c.completed), expiresTs: c.expiresTs,
        ...(c.registrationToken !== undefined ? { registrationToken: c.registrationToken } : {}),
        ...(current?.release ? { release: current.release } : {}),
      });
    });
  }

  private publish(id: string): void {
    const s = this.sessions.get(id);
    if (!this.link || !s) return;
    this.link.send({
      op: 'set', id, purpose: s.purpose, userId: s.userId, completed: [...s.completed], expiresTs: s.expiresTs,
      ...(s.registrationToken !== undefined ? { registrationToken: s.registrationToken } : {}),
    });
  }

  private drop(id: string): void {
    this.sessions.delete(id);
    this.link?.send({ op: 'del', id });
  }

  /**
   * Runs one step of UIA for `purpose`. Resolves when a flow is complete; otherwise throws the 401
   * challenge (with `errcode` when a stage just failed), or 400 for malformed auth.
   */
  async authenticate(
    purpose: string,
    auth: unknown,
    flows: UiaFlow[],
    opts: { userId: string | null; checkPassword?: PasswordCheck; registrationTokens?: RegistrationTokenStage },
  ): Promise<UiaResult> {
    this.expire();
    if (auth === undefined || auth === null) throw this.challenge(this.newSession(purpose, opts.userId), flows);
    if (typeof auth !== 'object' || Array.isArray(auth)) throw badJson('auth must be an object');
    const a = auth as Record<string, unknown>;
    if (a.session !== undefined && typeof a.session !== 'string') throw badJson('auth.session must be a string');
    if (a.type !== undefined && typeof a.type !== 'string') throw badJson('auth.type must be a string');

    let sessionId = a.session as string | undefined;
    let session = sessionId ? this.sessions.get(sessionId) : undefined;
    if (sessionId && (!session || session.purpose !== purpose || session.userId !== opts.userId)) {
      // An unknown session, or one started for another operation or user, cannot be continued.
      throw new MatrixError(400, 'M_UNKNOWN', 'Unknown or mismatched user-interactive auth session');
    }
    if (!session) {
      sessionId = this.newSession(purpose, opts.userId);
      session = this.sessions.get(sessionId)!;
    }
    const type = a.type as string | undefined;
    if (type !== undefined) {
      const offered = flows.some((f) => f.stages.includes(type as UiaStage));
      if (!offered) throw this.challenge(sessionId!, flows, { errcode: 'M_UNRECOGNIZED', error: `Auth type ${type} is not offered here` });
      if (type === 'm.login.password') {
        const ok = opts.userId !== null && opts.checkPassword !== undefined && (await opts.checkPassword(a, opts.userId));
        if (!ok) throw this.challenge(sessionId!, flows, { errcode: 'M_FORBIDDEN', error: 'Invalid password' });
      }
      if (type === 'm.login.registration_token' && session.registrationToken === undefined) {
        const stage = opts.registrationTokens;
        const ok = stage !== undefined && (await stage.reserve(a.token));
        if (!ok) throw this.challenge(sessionId!, flows, { errcode: 'M_FORBIDDEN', error: 'Invalid registration token' });
        session.registrationToken = a.token as string;
        session.release = () => stage!.release(a.token as string);
      }
      session.completed.add(type as UiaStage);
      this.publish(sessionId!);
    }
    const done = flows.some((f) => f.stages.every((s) => session!.completed.has(s)));
    if (!done) throw this.challenge(sessionId!, flows);
    this.drop(sessionId!);
    return session.registrationToken !== undefined ? { registrationToken: session.registrationToken } : {};
  }

  private newSession(purpose: string, userId: string | null): string {
    const id = randomToken(18);
    this.sessions.set(id, { purpose, userId, completed: new Set(), expiresTs: this.clock.now() + SESSION_LIFETIME_MS });
    this.publish(id);
    return id;
  }

  private challenge(sessionId: string, flows: UiaFlow[], failure?: { errcode: string; error: string }): MatrixError {
    const completed = [...(this.sessions.get(sessionId)?.completed ?? [])];
    return uiaRequired({ flows, params: {}, session: sessionId, completed }, failure);
  }

  /** Drops expired sessions, giving back the registration token uses they held. */
  expire(): void {
    const now = this.clock.now();
    for (const [id, s] of this.sessions) {
      if (s.expiresTs > now) continue;
      this.drop(id);
      s.release?.();
    }
  }
}
