// A throwaway Synapse (the reference homeserver) on loopback, for interop tests (test/interop/): one
// per test file. It runs from the venv named by HEARTH_SYNAPSE_VENV, else .venv-synapse/ in the
// repository (scripts/synapse-venv.sh makes it from test/python/synapse-requirements.txt; .ci/run
// calls it). A Synapse that cannot start (no venv, a crash, no answer in time) FAILS the test with a
// message that includes the tail of its log; nothing here skips.
//
//   const synapse = await startSynapse({ label: 'keys' });      // in beforeAll, with a long timeout
//   const alice = await synapse.registerUser('alice', { displayname: 'Alice' });
//   const roomId = await alice.client.createRoom({ room_version: '11' });
//   const r = await alice.client.profile('@bob:localhost:12345'); // r.status, r.body
//   await synapse.stop();                                        // in afterAll
//
// The server: server_name `localhost:<federationPort>`; a TLS listener on 127.0.0.1:<federationPort>
// serving federation and keys with a self-signed certificate made at start; a plain-HTTP client
// listener (client API and admin API) on 127.0.0.1:<clientPort>; SQLite in a temporary directory;
// federation_verify_certificates off and loopback in ip_range_whitelist, so it federates with other
// servers named `localhost:<port>` on this machine; rate limits raised out of the way; registration
// closed except through the shared secret (registerUser); public room lists open to other servers.
// Its log (INFO) and stderr are copied to test-artifacts/synapse/<label>.log when it stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { SigningKey } from '../../src/core/crypto/signing.js';
import { insecureHttpsJson, MatrixHttpClient } from './matrix-http.js';
import { freePort } from './net.js';
import { makeSelfSignedCertificate } from './tls.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A generous `beforeAll` timeout for starting Synapse (it takes 5-10 s on a small, busy machine). */
export const SYNAPSE_START_TIMEOUT_MS = 120_000;

/** The venv with Synapse: HEARTH_SYNAPSE_VENV or <repo>/.venv-synapse; throws (fails the test) when it is missing. */
export function synapseVenv(): string {
  const dir = process.env.HEARTH_SYNAPSE_VENV ? resolve(REPO, process.env.HEARTH_SYNAPSE_VENV) : join(REPO, '.venv-synapse');
  const python = join(dir, 'bin', 'python');
  if (!existsSync(python)) {
    throw new Error(
      `The Synapse venv is missing (no ${python}), so the Synapse interop tests cannot run. Make it with:\n` +
        '  npm run synapse:venv   (bash scripts/synapse-venv.sh: python3 -m venv .venv-synapse && pip install -r test/python/synapse-requirements.txt)\n' +
        'or run bash .ci/run (it does that), or point HEARTH_SYNAPSE_VENV at an existing one.',
    );
  }
  return dir;
}

export interface StartSynapseOptions {
  /** Names the copy of the log kept in test-artifacts/synapse/ (default: `synapse-<federationPort>`). */
  label?: string;
  /** homeserver.yaml keys that replace the defaults (top-level keys, replaced whole). */
  config?: Record<string, unknown>;
  /** How long to wait for Synapse to answer (default 90 s). */
  startTimeoutMs?: number;
}

export interface SynapseUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
  /** A client API client with this user's token. */
  client: MatrixHttpClient;
}

export interface Synapse {
  /** `localhost:<federationPort>`. */
  serverName: string;
  federationPort: number;
  clientPort: number;
  /** `https://127.0.0.1:<federationPort>` (self-signed: see insecureHttpsJson). */
  federationUrl: string;
  /** `http://127.0.0.1:<clientPort>`: client API and `/_synapse/admin`. */
  clientUrl: string;
  /** The temporary directory (config, database, log); removed by stop(). */
  dir: string;
  /** Synapse's signing key (made by the harness, so tests know it). */
  signingKey: { keyId: string; publicKeyBase64: string };
  /** An unauthenticated client API client. */
  client: MatrixHttpClient;
  /** Registers a user through the shared-secret admin API (`/_synapse/admin/v1/register`). */
  registerUser(localpart: string, opts?: { password?: string; admin?: boolean; displayname?: string }): Promise<SynapseUser>;
  /** The last lines of Synapse's log and stderr, for failure messages. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after 10 s; keeps a copy of the log; removes the directory. */
  stop(): Promise<void>;
}

/** Synapse did not start: the message says why, with the tail of its log. */
export class SynapseStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SynapseStartError';
  }
}

const HUGE = { per_second: 1_000_000, burst_count: 1_000_000 };

/** homeserver.yaml for a loopback test Synapse (every path inside `dir`). */
export function synapseConfig(p: {
  dir: string; federationPort: number; clientPort: number; certPath: string; keyPath: string; sharedSecret: string;
}): Record<string, unknown> {
  return {
    server_name: `localhost:${p.federationPort}`,
    public_baseurl: `http://127.0.0.1:${p.clientPort}/`,
    pid_file: join(p.dir, 'homeserver.pid'),
    report_stats: false,
    signing_key_path: join(p.dir, 'signing.key'),
    log_config: join(p.dir, 'log.yaml'),
    media_store_path: join(p.dir, 'media'),
    database: { name: 'sqlite3', args: { database: join(p.dir, 'homeserver.db') } },
    tls_certificate_path: p.certPath,
    tls_private_key_path: p.keyPath,
    listeners: [
      // Synapse federates only over TLS: other servers reach it here, at its server name's port.
      { port: p.federationPort, bind_addresses: ['127.0.0.1'], type: 'http', tls: true, x_forwarded: false, resources: [{ names: ['federation'], compress: false }] },
      { port: p.clientPort, bind_addresses: ['127.0.0.1'], type: 'http', tls: false, x_forwarded: false, resources: [{ names: ['client'], compress: false }] },
    ],
    // Other servers on this machine have self-signed certificates and loopback addresses.
    federation_verify_certificates: false,
    ip_range_whitelist: ['127.0.0.1', '::1'],
    // Keys only from the servers themselves (no matrix.org notary).
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    enable_registration: false,
    registration_shared_secret: p.sharedSecret,
    macaroon_secret_key: randomBytes(24).toString('hex'),
    form_secret: randomBytes(24).toString('hex'),
    enable_metrics: false,
    // Public room lists: published rooms are listed (the default rules publish nothing), and other
    // servers may read the list (the default refuses them).
    room_list_publication_rules: [{ action: 'allow' }],
    allow_public_rooms_over_federation: true,
    // Rate limits out of the way of tests.
    rc_message: HUGE,
    rc_registration: HUGE,
    rc_registration_token_validity: HUGE,
    rc_login: { address: HUGE, account: HUGE, failed_attempts: HUGE },
    rc_joins: { local: HUGE, remote: HUGE },
    rc_joins_per_room: HUGE,
    rc_invites: { per_room: HUGE, per_user: HUGE, per_issuer: HUGE },
    rc_third_party_invite: HUGE,
    rc_3pid_validation: HUGE,
    rc_admin_redaction: HUGE,
    rc_key_requests: HUGE,
    rc_media_create: HUGE,
    rc_presence: { per_user: HUGE },
    rc_delayed_event_mgmt: HUGE,
    rc_room_creation: HUGE,
    rc_reports: HUGE,
    rc_user_directory: HUGE,
    rc_profile: HUGE,
    rc_federation: { window_size: 1000, sleep_limit: 100_000, sleep_delay: 1, reject_limit: 100_000, concurrent: 100_000 },
    federation_rr_transactions_per_room_per_second: 100_000,
  };
}

/** Python logging config: INFO to homeserver.log in `dir` (SQL and access lines at WARNING). */
function logConfig(dir: string): Record<string, unknown> {
  return {
    version: 1,
    formatters: { precise: { format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s' } },
    filters: { context: { '()': 'synapse.logging.context.LoggingContextFilter', request: '' } },
    handlers: { file: { class: 'logging.FileHandler', formatter: 'precise', filename: join(dir, 'homeserver.log'), filters: ['context'] } },
    loggers: { 'synapse.storage.SQL': { level: 'WARNING' }, 'synapse.access': { level: 'INFO' } },
    root: { level: 'INFO', handlers: ['file'] },
    disable_existing_loggers: false,
  };
}

function tailOf(path: string, lines: number): string {
  if (!existsSync(path)) return '(none)';
  const all = readFileSync(path, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n') || '(empty)';
}

/** Starts a Synapse; resolves once its client and federation listeners answer. */
export async function startSynapse(opts: StartSynapseOptions = {}): Promise<Synapse> {
  const venv = synapseVenv();
  const federationPort = await freePort();
  const clientPort = await freePort();
  const serverName = `localhost:${federationPort}`;
  const label = opts.label ?? `synapse-${federationPort}`;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-synapse-'));
  const cert = makeSelfSignedCertificate('localhost');
  const sharedSecret = randomBytes(24).toString('hex');
  const key = SigningKey.generate();
  // Synapse's key file: "<algorithm> <version> <unpadded base64 seed>".
  writeFileSync(join(dir, 'signing.key'), `ed25519 ${key.keyId.slice('ed25519:'.length)} ${key.seedBase64}\n`);
  writeFileSync(join(dir, 'log.yaml'), stringify(logConfig(dir)));
  const config = { ...synapseConfig({ dir, federationPort, clientPort, certPath: cert.certPath, keyPath: cert.keyPath, sharedSecret }), ...opts.config };
  writeFileSync(join(dir, 'homeserver.yaml'), stringify(config));

  const logPath = join(dir, 'homeserver.log');
  const stderrPath = join(dir, 'stderr.log');
  const logTail = (lines = 40) => `--- tail of Synapse's log (${logPath}) ---\n${tailOf(logPath, lines)}\n--- tail of its stdout/stderr ---\n${tailOf(stderrPath, lines)}`;
  const keepLog = () => {
    try {
      const out = join(REPO, 'test-artifacts', 'synapse');
      mkdirSync(out, { recursive: true });
      const file = join(out, `${label}.log`);
      writeFileSync(file, existsSync(logPath) ? readFileSync(logPath) : '');
      appendFileSync(file, `\n--- stdout/stderr ---\n${existsSync(stderrPath) ? readFileSync(stderrPath, 'utf8') : ''}`);
    } catch {
      // a copy for diagnosis only
    }
  };
  const cleanUp = () => {
    keepLog();
    rmSync(dir, { recursive: true, force: true });
    cert.remove();
  };

  const child: ChildProcess = spawn(join(venv, 'bin', 'python'), ['-m', 'synapse.app.homeserver', '--config-path', join(dir, 'homeserver.yaml')], {
    cwd: dir, env: { ...process.env, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => appendFileSync(stderrPath, c));
  child.stderr!.on('data', (c: Buffer) => appendFileSync(stderrPath, c));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedP = new Promise<void>((done) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    done();
  }));
  let spawnError: Error | undefined;
  child.once('error', (e) => { spawnError = e; });
  // Never leave a Synapse behind, whatever ends this process.
  const killOnExit = () => { if (!exited) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  const stopChild = async () => {
    if (!exited && !spawnError) {
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 10_000);
      await exitedP;
      clearTimeout(t);
    }
    process.off('exit', killOnExit);
  };

  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const federationUrl = `https://127.0.0.1:${federationPort}`;
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  const answers = async (check: () => Promise<boolean>) => {
    try {
      return await check();
    } catch {
      return false;
    }
  };
  try {
    let clientUp = false;
    let federationUp = false;
    for (;;) {
      if (spawnError) throw new SynapseStartError(`Synapse could not be run (${join(venv, 'bin', 'python')}): ${spawnError.message}`);
      if (exited) throw new SynapseStartError(`Synapse exited (code ${exited.code}, signal ${exited.signal}) before it answered on ${clientUrl}\n${logTail()}`);
      clientUp ||= await answers(async () => (await fetch(`${clientUrl}/_matrix/client/versions`)).status === 200);
      federationUp ||= clientUp && await answers(async () => (await insecureHttpsJson(`${federationUrl}/_matrix/federation/v1/version`)).status === 200);
      if (clientUp && federationUp) break;
      if (Date.now() > deadline) {
        throw new SynapseStartError(`Synapse did not answer on ${clientUp ? federationUrl : clientUrl} within ${timeoutMs / 1000} s\n${logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    await stopChild();
    cleanUp();
    throw e;
  }

  const context = () => logTail(20);
  const client = new MatrixHttpClient(clientUrl, undefined, undefined, context);
  let stopping: Promise<void> | undefined;
  return {
    serverName, federationPort, clientPort, federationUrl, clientUrl, dir, client,
    signingKey: { keyId: key.keyId, publicKeyBase64: key.publicKeyBase64 },
    logTail,
    async registerUser(localpart, o = {}) {
      const password = o.password ?? `pw-${randomBytes(8).toString('hex')}`;
      // Shared-secret registration (Synapse admin API): a nonce, then an HMAC-SHA1 over
      // nonce\0username\0password\0admin|notadmin with the shared secret.
      const { nonce } = await client.ok<{ nonce: string }>('GET', '/_synapse/admin/v1/register');
      const mac = createHmac('sha1', sharedSecret).update(`${nonce}\0${localpart}\0${password}\0${o.admin ? 'admin' : 'notadmin'}`).digest('hex');
      const r = await client.ok<{ user_id: string; access_token: string; device_id: string }>('POST', '/_synapse/admin/v1/register', {
        body: { nonce, username: localpart, password, admin: o.admin ?? false, mac, ...(o.displayname !== undefined ? { displayname: o.displayname } : {}) },
      });
      return { userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id, password, client: new MatrixHttpClient(clientUrl, r.access_token, r.user_id, context) };
    },
    stop() {
      stopping ??= (async () => {
        await stopChild();
        cleanUp();
      })();
      return stopping;
    },
  };
}
