// Shared by the matrix-js-sdk e2e tests: a quiet SDK logger, muting of known SDK console noise, and a
// harness that records every HTTP request the SDK makes (method, path, status) so that a wait that
// times out names the requests that answered an error.
import * as sdk from 'matrix-js-sdk';

export interface Recorded {
  who: string;
  method: string;
  path: string;
  status: number | 'aborted' | 'network-error';
}

const quiet = process.env.E2E_DEBUG !== '1';
type SdkLogger = NonNullable<sdk.ICreateClientOpts['logger']>;
export const logger: SdkLogger = {
  trace: () => undefined,
  debug: (...m: unknown[]) => { if (!quiet) console.debug(...m); },
  info: (...m: unknown[]) => { if (!quiet) console.info(...m); },
  warn: (...m: unknown[]) => console.warn(...m),
  error: (...m: unknown[]) => console.error(...m),
  getChild: () => logger,
};

/**
 * Known, harmless SDK console noise with any server: the SDK's push-rule merge reports the rules it
 * adds or misses (Hearth serves the v1.17 defaults, without the deprecated .m.rule.contains_display_name
 * and .m.rule.roomnotif), and MatrixRTCSessionManager sees state of a room the SDK has not stored yet.
 */
const KNOWN_NOISE = [/(Missing|Adding) default global \w+ push rule /, /Got room state event for unknown room /];
/** Mutes the known noise, and `extra` patterns a test expects (e.g. the SDK's report of a refused send). */
export function muteKnownSdkNoise(extra: RegExp[] = []): () => void {
  const { warn, error } = console;
  const patterns = [...KNOWN_NOISE, ...extra];
  const noisy = (m: unknown[]) => {
    const text = m.filter((x) => typeof x === 'string').join(' ');
    return quiet && patterns.some((re) => re.test(text));
  };
  console.warn = (...m: unknown[]) => { if (!noisy(m)) warn(...m); };
  console.error = (...m: unknown[]) => { if (!noisy(m)) error(...m); };
  return () => {
    console.warn = warn;
    console.error = error;
  };
}

type Listener = (...args: unknown[]) => void;
interface Emitter {
  on(event: string, fn: Listener): unknown;
  off(event: string, fn: Listener): unknown;
}

/** Request recording, `waitFor` and `makeClient` for one test file; `baseUrl` is read when a client is made. */
export function createHarness(baseUrl: () => string) {
  const requests: Recorded[] = [];
  const clients: sdk.MatrixClient[] = [];

  const describeFailures = (): string => {
    const failed = requests.filter((r) => r.status !== 'aborted' && (r.status === 'network-error' || r.status >= 400));
    return failed.length === 0
      ? 'no HTTP request answered an error'
      : `HTTP requests that answered an error:\n${failed.map((r) => `  [${r.who}] ${r.method} ${r.path} -> ${r.status}`).join('\n')}`;
  };

  /**
   * Resolves with check()'s first non-undefined value, testing it now and whenever `client` emits one
   * of `events`; rejects after `ms` with `what`, the last sync state and the failed HTTP requests.
   */
  function waitFor<T>(client: sdk.MatrixClient, events: string[], check: () => T | undefined, ms: number, what: string): Promise<T> {
    const emitter = client as unknown as Emitter;
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        for (const e of events) emitter.off(e, listener);
      };
      const listener: Listener = () => {
        let v: T | undefined;
        try {
          v = check();
        } catch (e) {
          done();
          reject(e as Error);
          return;
        }
        if (v !== undefined) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what} (sync state of ${client.getUserId()}: ${client.getSyncState()})\n${describeFailures()}`));
      }, ms);
      for (const e of events) emitter.on(e, listener);
      listener();
    });
  }

  function makeClient(who: string, creds?: { userId: string; accessToken: string; deviceId: string }): sdk.MatrixClient {
    const fetchFn: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      const entry: Recorded = { who, method, path: url.pathname + url.search, status: 'network-error' };
      requests.push(entry);
      try {
        const res = await fetch(input, init);
        entry.status = res.status;
        return res;
      } catch (e) {
        if ((e as Error).name === 'AbortError' || init?.signal?.aborted) entry.status = 'aborted';
        throw e;
      }
    };
    const c = sdk.createClient({ baseUrl: baseUrl(), ...creds, fetchFn, logger });
    clients.push(c);
    return c;
  }
  return { requests, clients, describeFailures, waitFor, makeClient };
}
