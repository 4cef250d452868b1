// Typed configuration: a YAML file plus environment overrides, validated at start-up with every
// problem reported at once. The key table below is the single source of defaults and documentation
// (`hearth generate-config` prints it as a commented YAML file).
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { parseCidr } from './core/net/ip.js';

export interface RateLimit {
  per_second: number;
  burst: number;
}

export interface Config {
  server_name: string;
  public_baseurl: string | null;
  listen: { host: string; port: number };
  database: {
    engine: 'sqlite' | 'postgres';
    /** SQLite only. */
    path: string;
    /** SQLite only. */
    cache_mb: number;
    /** PostgreSQL only: a postgres:// connection URL (its password is never logged). */
    url: string | null;
    /** PostgreSQL only: connections in the pool. */
    pool_size: number;
  };
  /** Shared live state for several processes (spec/scaling.md); null: everything in this process's memory. */
  redis: { url: string | null; lease_ttl_ms: number };
  enable_registration: boolean;
  registration_requires_token: boolean;
  allow_guest_access: boolean;
  registration_shared_secret: string | null;
  password_min_length: number;
  max_request_body_bytes: number;
  rate_limits: {
    enabled: boolean;
    login: RateLimit;
    failed_login: RateLimit;
    registration: RateLimit;
    message: RateLimit;
    invite: RateLimit;
    invite_per_invitee: RateLimit;
    federation_transaction: RateLimit;
    federation_invite: RateLimit;
  };
  jwt_login: {
    enabled: boolean;
    secret: string | null;
    algorithm: string;
    issuer: string | null;
    audiences: string[];
  };
  logging: { level: string };
  invite_reason_max_length: number;
  invite_room_state: string[];
  default_room_version: string;
  sessions: { idle_timeout_ms: number };
  presence: { enabled: boolean; idle_timeout_ms: number };
  typing: { max_timeout_ms: number };
  server_notices: { enabled: boolean; room_name: string; on_password_change: boolean; on_new_login: boolean; system_user_localpart: string };
  server_events: { compat_sender_localpart: string | null };
  web_client: { enabled: boolean; path: string };
  federation: {
    enabled: boolean;
    listen: { host: string; port: number };
    tls_certificate_path: string | null;
    tls_private_key_path: string | null;
    verify_certificates: boolean;
    /** null: federate with anyone; a list: only these server names. */
    domain_whitelist: string[] | null;
  };
  /** Outbound requests (federation, push gateways, later URL previews) never reach these ranges... */
  ip_range_blacklist: string[];
  /** ...unless the address is in one of these (exceptions, e.g. loopback for tests on one machine). */
  ip_range_whitelist: string[];
  media: { store_path: string | null; max_upload_bytes: number; allow_legacy_unauthenticated: boolean };
}

type Kind = 'string' | 'nullable-string' | 'boolean' | 'port' | 'positive-int' | 'non-negative-number' | 'string-list' | 'nullable-string-list' | 'enum';

interface Leaf {
  kind: Kind;
  default: unknown;
  doc: string;
  values?: readonly string[];
}
type Shape = { [key: string]: Leaf | Shape };

const limit = (perSecond: number, burst: number, doc: string): Shape => ({
  per_second: { kind: 'non-negative-number', default: perSecond, doc: `${doc}: sustained rate (requests per second)` },
  burst: { kind: 'positive-int', default: burst, doc: `${doc}: how many may come at once before the rate applies` },
});

/**
 * Private, loopback, link-local, multicast and documentation ranges: Synapse's default
 * `ip_range_blacklist` (synapse/config/server.py DEFAULT_IP_RANGE_BLOCKLIST). IPv4 ranges also cover
 * their IPv4-mapped, IPv4-compatible and 6to4 IPv6 forms (src/core/net/ip.ts).
 */
export const DEFAULT_IP_RANGE_BLACKLIST: readonly string[] = [
  '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24',
  '169.254.0.0/16', '192.88.99.0/24', '198.18.0.0/15', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '::1/128', 'fe80::/10', 'fc00::/7', '2001:db8::/32', 'ff00::/8', 'fec0::/10',
];

const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const CONFIG_SHAPE: Shape = {
  server_name: { kind: 'string', default: 'localhost', doc: 'The domain part of user IDs, room aliases and server-generated event senders' },
  public_baseurl: { kind: 'nullable-string', default: null, doc: 'URL clients use to reach this server (for /.well-known/matrix/client); null: http://<listen.host>:<listen.port>' },
  listen: {
    host: { kind: 'string', default: '127.0.0.1', doc: 'Address to bind (env HEARTH_BIND)' },
    port: { kind: 'port', default: 8008, doc: 'TCP port, 0 picks a free one (env HEARTH_PORT)' },
  },
  database: {
    engine: { kind: 'enum', values: ['sqlite', 'postgres'], default: 'sqlite', doc: 'Storage engine: sqlite (one file, nothing to install) or postgres (env HEARTH_DATABASE_ENGINE)' },
    path: { kind: 'string', default: './data/hearth.db', doc: "sqlite only: the database file; ':memory:' keeps everything in memory (env HEARTH_DATABASE)" },
    cache_mb: { kind: 'positive-int', default: 64, doc: "sqlite only: page cache in MiB, filled on demand (a cold initial sync of many rooms reads pages from all over the file)" },
    url: { kind: 'nullable-string', default: null, doc: 'postgres only: connection URL, e.g. postgres://hearth:secret@127.0.0.1:5432/hearth (env HEARTH_DATABASE_URL; the password is never logged)' },
    pool_size: { kind: 'positive-int', default: 10, doc: 'postgres only: connections in the pool' },
  },
  redis: {
    url: {
      kind: 'nullable-string', default: null,
      doc: 'Redis for the live state shared by several Hearth processes (sessions, typing, presence, wake-ups of /sync, rate limits, leases), e.g. redis://127.0.0.1:6379/0; set it whenever more than one process serves (env HEARTH_REDIS_URL; the password is never logged)',
    },
    lease_ttl_ms: {
      kind: 'positive-int', default: 5000,
      doc: 'A process that stops renewing its heartbeat and leases for this long is taken for dead: another process takes over its single-process work (expiries, sending to other servers)',
    },
  },
  enable_registration: { kind: 'boolean', default: true, doc: 'Open registration through /_matrix/client/v3/register' },
  registration_requires_token: { kind: 'boolean', default: false, doc: 'Registration needs a registration token (m.login.registration_token; tokens come from the admin API) instead of the dummy stage' },
  allow_guest_access: { kind: 'boolean', default: true, doc: 'Allow temporary (guest) accounts through register?kind=guest' },
  registration_shared_secret: { kind: 'nullable-string', default: null, doc: 'Enables /_synapse/admin/v1/register (HMAC shared-secret registration) when set' },
  password_min_length: { kind: 'positive-int', default: 8, doc: 'Minimum password length in characters' },
  max_request_body_bytes: { kind: 'positive-int', default: 1048576, doc: 'Larger request bodies are refused with 413 M_TOO_LARGE' },
  rate_limits: {
    enabled: { kind: 'boolean', default: true, doc: 'false turns every rate limit off (tests, benchmarks)' },
    login: limit(0.2, 5, 'Login attempts per client IP'),
    failed_login: limit(0.1, 3, 'Failed logins per account'),
    registration: limit(0.2, 5, 'Registrations per client IP'),
    message: limit(5, 20, 'Events sent per user'),
    invite: limit(0.5, 10, 'Invites sent per inviter'),
    invite_per_invitee: limit(0.2, 5, 'Invites received per invitee'),
    federation_transaction: limit(20, 100, 'Inbound federation transactions (PUT /_matrix/federation/v1/send) per origin server'),
    federation_invite: limit(0.5, 20, 'Invites received from other servers (PUT /_matrix/federation/v2/invite) per origin server, on top of the per-inviter and per-invitee limits'),
  },
  jwt_login: {
    enabled: { kind: 'boolean', default: false, doc: 'Accept org.matrix.login.jwt logins' },
    secret: { kind: 'nullable-string', default: null, doc: 'HMAC secret, or PEM public key for RS/ES/PS/EdDSA algorithms' },
    algorithm: { kind: 'enum', values: JWT_ALGORITHMS, default: 'HS256', doc: 'JWT signature algorithm' },
    issuer: { kind: 'nullable-string', default: null, doc: 'Required `iss` claim when set' },
    audiences: { kind: 'string-list', default: [], doc: 'Accepted `aud` values; when non-empty the token must name one of them' },
  },
  logging: {
    level: { kind: 'enum', values: LOG_LEVELS, default: 'info', doc: 'Log level (env HEARTH_LOG_LEVEL)' },
  },
  default_room_version: { kind: 'enum', values: ['10', '11', '12'], default: '12', doc: 'Room version of new rooms when the client names none (12: room IDs without a server part, creators with unlimited power; Synapse\'s default too)' },
  invite_reason_max_length: { kind: 'positive-int', default: 512, doc: 'Longest `reason` (characters) accepted on invites and other membership changes; longer: 400 M_BAD_JSON' },
  invite_room_state: {
    kind: 'string-list',
    default: ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.avatar', 'm.room.canonical_alias', 'm.room.topic', 'm.room.encryption'],
    doc: 'State event types shown (stripped) with an invite, besides the invite event itself',
  },
  sessions: {
    idle_timeout_ms: { kind: 'positive-int', default: 60000, doc: 'A session without any request for this long ends (a waiting /sync counts as activity)' },
  },
  presence: {
    enabled: { kind: 'boolean', default: true, doc: 'false turns presence off entirely (large deployments do this)' },
    idle_timeout_ms: { kind: 'positive-int', default: 300000, doc: 'A session with no active action (sending, typing, going online) for this long shows as unavailable' },
  },
  typing: {
    max_timeout_ms: { kind: 'positive-int', default: 120000, doc: 'Longest typing timeout a client may ask for' },
  },
  server_notices: {
    enabled: { kind: 'boolean', default: true, doc: 'Server notices: one private room per user, owned by the server (sender = server name)' },
    room_name: { kind: 'string', default: 'Server Notices', doc: 'Name of each user\'s server-notices room' },
    on_password_change: { kind: 'boolean', default: true, doc: 'Send the user a notice when their password changes' },
    on_new_login: { kind: 'boolean', default: true, doc: 'Send the user a notice when a new device logs in to their account' },
    system_user_localpart: {
      kind: 'string', default: 'system',
      doc: 'The server-owned user that creates each server-notices room and invites its user (events in a room graph are always sent by a user; the notices themselves have the server name as sender); the localpart is reserved',
    },
  },
  server_events: {
    compat_sender_localpart: {
      kind: 'nullable-string', default: null,
      doc: 'When set (e.g. "notices"), clients that have not said they understand server-name senders see server-generated events from @<localpart>:<server_name> (the domain kept in unsigned["hearth.server_sender"]); the localpart is reserved',
    },
  },
  web_client: {
    enabled: { kind: 'boolean', default: true, doc: 'Serve the built-in web chat client (dist/web, built by npm run build) at web_client.path' },
    path: { kind: 'string', default: '/', doc: "URL path of the web client, e.g. '/' or '/chat/'; not under /_matrix, /_synapse, /_hearth, /.well-known or /metrics" },
  },
  federation: {
    enabled: { kind: 'boolean', default: false, doc: 'Federate with other Matrix servers: the federation listener below and outbound traffic; false refuses signed federation requests (403 M_FORBIDDEN)' },
    listen: {
      host: { kind: 'string', default: '0.0.0.0', doc: 'Address of the federation listener (serves /_matrix/federation and /_matrix/key only)' },
      port: { kind: 'port', default: 8448, doc: 'TCP port of the federation listener, 0 picks a free one' },
    },
    tls_certificate_path: { kind: 'nullable-string', default: null, doc: 'PEM certificate (chain) of the federation listener; null: it speaks plain HTTP (a reverse proxy terminates TLS)' },
    tls_private_key_path: { kind: 'nullable-string', default: null, doc: 'PEM private key of that certificate; set together with tls_certificate_path' },
    verify_certificates: { kind: 'boolean', default: true, doc: 'Verify the TLS certificates of other servers (false only for tests with self-signed certificates)' },
    domain_whitelist: { kind: 'nullable-string-list', default: null, doc: 'null: federate with any server; a list of server names: only with these (inbound and outbound)' },
  },
  ip_range_blacklist: {
    kind: 'string-list',
    default: DEFAULT_IP_RANGE_BLACKLIST,
    doc: 'IP addresses and CIDR ranges outbound requests (federation, push gateways, and later URL previews) never connect to (SSRF defence); 0.0.0.0 and :: are always refused',
  },
  ip_range_whitelist: { kind: 'string-list', default: [], doc: 'Exceptions to ip_range_blacklist, e.g. ["127.0.0.1", "::1"] for servers on one machine' },
  media: {
    store_path: {
      kind: 'nullable-string', default: null,
      doc: "Directory of uploaded media and thumbnails; null: 'media' beside the database file (./data/media), or a temporary directory removed at shutdown when the database is ':memory:'",
    },
    max_upload_bytes: { kind: 'positive-int', default: 52428800, doc: 'Largest upload in bytes (larger: 413 M_TOO_LARGE, refused while streaming); advertised as m.upload.size' },
    allow_legacy_unauthenticated: {
      kind: 'boolean', default: false,
      doc: 'Also serve downloads and thumbnails on the deprecated unauthenticated /_matrix/media/v3 and /r0 paths (for clients older than Matrix 1.11); off: they answer 404 M_NOT_FOUND, as the spec\'s "freeze" asks',
    },
  },
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const isLeaf = (v: Leaf | Shape): v is Leaf => typeof (v as Leaf).kind === 'string' && 'default' in v;

function defaultsOf(shape: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(shape)) out[k] = isLeaf(v) ? structuredClone(v.default) : defaultsOf(v);
  return out;
}

function checkLeaf(leaf: Leaf, value: unknown, path: string, problems: string[]): unknown {
  const bad = (what: string) => { problems.push(`${path}: ${what} (got ${JSON.stringify(value)})`); return leaf.default; };
  switch (leaf.kind) {
    case 'string':
      return typeof value === 'string' && value.length > 0 ? value : bad('must be a non-empty string');
    case 'nullable-string':
      return value === null || (typeof value === 'string' && value.length > 0) ? value : bad('must be a non-empty string or null');
    case 'boolean':
      return typeof value === 'boolean' ? value : bad('must be true or false');
    case 'port':
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535 ? value : bad('must be an integer from 0 to 65535');
    case 'positive-int':
      return Number.isInteger(value) && (value as number) > 0 ? value : bad('must be a positive integer');
    case 'non-negative-number':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : bad('must be a number >= 0');
    case 'string-list':
      return Array.isArray(value) && value.every((s) => typeof s === 'string') ? value : bad('must be a list of strings');
    case 'nullable-string-list':
      return value === null || (Array.isArray(value) && value.every((s) => typeof s === 'string')) ? value : bad('must be a list of strings or null');
    case 'enum':
      return typeof value === 'string' && leaf.values!.includes(value) ? value : bad(`must be one of ${leaf.values!.join(', ')}`);
  }
}

function merge(shape: Shape, input: unknown, path: string, problems: string[]): Record<string, unknown> {
  const out = defaultsOf(shape);
  if (input === undefined || input === null) return out;
  if (typeof input !== 'object' || Array.isArray(input)) {
    problems.push(`${path || '(top level)'}: must be a mapping`);
    return out;
  }
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    const here = path ? `${path}.${key}` : key;
    const spec = shape[key];
    if (!spec) {
      problems.push(`${here}: unknown key`);
      continue;
    }
    out[key] = isLeaf(spec) ? checkLeaf(spec, value, here, problems) : merge(spec, value, here, problems);
  }
  return out;
}

const SERVER_NAME_RE = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(?::\d{1,5})?$/;

/** Environment variables that override file values; each maps to a path and is parsed like YAML. */
export const ENV_OVERRIDES: Record<string, string> = {
  HEARTH_SERVER_NAME: 'server_name',
  HEARTH_BIND: 'listen.host',
  HEARTH_PORT: 'listen.port',
  HEARTH_DATABASE: 'database.path',
  HEARTH_DATABASE_ENGINE: 'database.engine',
  HEARTH_DATABASE_URL: 'database.url',
  HEARTH_REDIS_URL: 'redis.url',
  HEARTH_LOG_LEVEL: 'logging.level',
  HEARTH_REGISTRATION_SHARED_SECRET: 'registration_shared_secret',
  HEARTH_ENABLE_REGISTRATION: 'enable_registration',
  HEARTH_RATE_LIMITS_ENABLED: 'rate_limits.enabled',
};

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** Parses an env value: numbers and booleans as YAML would, everything else as a plain string. */
function envValue(raw: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw === 'null') return null;
  return raw;
}

/**
 * Builds a validated config from a raw object (already parsed YAML) and env overrides.
 * Throws ConfigError listing every problem.
 */
export function buildConfig(raw: unknown = {}, env: NodeJS.ProcessEnv = {}): Config {
  const problems: string[] = [];
  const input = raw === null || raw === undefined ? {} : structuredClone(raw);
  if (typeof input === 'object' && !Array.isArray(input)) {
    for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
      const v = env[name];
      if (v !== undefined && v !== '') setPath(input as Record<string, unknown>, path, envValue(v));
    }
  }
  const config = merge(CONFIG_SHAPE, input, '', problems) as unknown as Config;
  if (!SERVER_NAME_RE.test(config.server_name)) problems.push(`server_name: not a valid server name (got ${JSON.stringify(config.server_name)})`);
  if (config.jwt_login.enabled && !config.jwt_login.secret) problems.push('jwt_login.secret: required when jwt_login.enabled is true');
  if (config.public_baseurl !== null && !/^https?:\/\//.test(config.public_baseurl)) problems.push('public_baseurl: must start with http:// or https://');
  const system = config.server_notices.system_user_localpart;
  if (!/^[a-z0-9._=\-/+]+$/.test(system) || /^\d+$/.test(system) || system.startsWith('_')) {
    problems.push(`server_notices.system_user_localpart: must be a user ID localpart (a-z, 0-9, . _ = - / +, not only digits, not starting with _) (got ${JSON.stringify(system)})`);
  }
  const compat = config.server_events.compat_sender_localpart;
  // The same rules as a registered localpart (appendices "User Identifiers"; no guest or reserved shape).
  if (compat !== null && (!/^[a-z0-9._=\-/+]+$/.test(compat) || /^\d+$/.test(compat) || compat.startsWith('_'))) {
    problems.push(`server_events.compat_sender_localpart: must be a user ID localpart (a-z, 0-9, . _ = - / +, not only digits, not starting with _) (got ${JSON.stringify(compat)})`);
  }
  checkFederation(config, problems);
  checkDatabase(config, problems);
  checkRedis(config, problems);
  const webPath = checkWebClientPath(config.web_client.path);
  if (typeof webPath === 'string') config.web_client.path = webPath;
  else problems.push(`web_client.path: ${webPath.problem} (got ${JSON.stringify(config.web_client.path)})`);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Federation keys that depend on each other, server names in the whitelist, IP ranges that parse. */
function checkFederation(config: Config, problems: string[]): void {
  const f = config.federation;
  if ((f.tls_certificate_path === null) !== (f.tls_private_key_path === null)) {
    problems.push('federation.tls_certificate_path, federation.tls_private_key_path: set both (TLS) or neither (plain HTTP)');
  }
  for (const name of f.domain_whitelist ?? []) {
    if (!SERVER_NAME_RE.test(name)) problems.push(`federation.domain_whitelist: not a server name (got ${JSON.stringify(name)})`);
  }
  for (const key of ['ip_range_blacklist', 'ip_range_whitelist'] as const) {
    for (const range of config[key]) {
      if (parseCidr(range) === undefined) problems.push(`${key}: not an IP address or CIDR range (got ${JSON.stringify(range)})`);
    }
  }
}

/** Keys of `database` that belong to one engine only. */
const SQLITE_ONLY = ['path', 'cache_mb'] as const;
const POSTGRES_ONLY = ['url', 'pool_size'] as const;

/**
 * The database keys of the chosen engine: postgres needs `url` (a postgres:// or postgresql:// URL);
 * a key of the other engine set to anything but its default (in the file or the environment) is a
 * mistake (a generated config file lists every key with its default, and stays valid). Problems about
 * the URL never quote it whole: it may hold a password.
 */
function checkDatabase(config: Config, problems: string[]): void {
  const db = config.database;
  const shape = CONFIG_SHAPE.database as Shape;
  const other = db.engine === 'postgres' ? SQLITE_ONLY : POSTGRES_ONLY;
  for (const key of other) {
    if (JSON.stringify(db[key]) !== JSON.stringify((shape[key] as Leaf).default)) {
      problems.push(`database.${key}: only used with database.engine: ${db.engine === 'postgres' ? 'sqlite' : 'postgres'} (the engine is ${db.engine})`);
    }
  }
  if (db.engine !== 'postgres') return;
  if (db.url === null) {
    problems.push('database.url: required when database.engine is postgres (e.g. postgres://hearth:secret@127.0.0.1:5432/hearth, or env HEARTH_DATABASE_URL)');
    return;
  }
  let url: URL | undefined;
  try {
    url = new URL(db.url);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    // Only the scheme is quoted: the rest may be a password.
    problems.push(`database.url: must be a postgres:// or postgresql:// URL (got ${url ? `a ${url.protocol} URL` : 'something that is not a URL'})`);
  }
}

/**
 * redis.url: a redis:// or rediss:// URL, and only with PostgreSQL: several processes need a database
 * they can all write (SQLite here has one writer, its file owned by one process; spec/scaling.md).
 */
function checkRedis(config: Config, problems: string[]): void {
  const raw = config.redis.url;
  if (raw === null) return;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
    problems.push(`redis.url: must be a redis:// or rediss:// URL (got ${url ? `a ${url.protocol} URL` : 'something that is not a URL'})`);
  }
  if (config.database.engine !== 'postgres') {
    problems.push('redis.url: only used with database.engine: postgres (several processes need a database they can all write; SQLite is one process\'s file)');
  }
}

/** A connection URL fit for logs and error messages: its password replaced by ***. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password !== '') u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** Where the database is, for logs: the SQLite path or the PostgreSQL URL without its password. */
export function describeDatabase(config: Config): string {
  return config.database.engine === 'postgres' && config.database.url !== null ? redactUrl(config.database.url) : config.database.path;
}

/** Paths the web client may not take: Hearth's own prefixes (src/http/app.ts HEARTH_PREFIXES) and /metrics. */
const RESERVED_WEB_PATHS = ['/_matrix/', '/_synapse/', '/_hearth/', '/.well-known/', '/metrics/'];

/**
 * web_client.path: an absolute URL path of plain segments, normalised to end in '/' ('/chat' ->
 * '/chat/'); the client must never shadow a Matrix route.
 */
function checkWebClientPath(path: string): string | { problem: string } {
  const p = path.endsWith('/') ? path : `${path}/`;
  if (!/^\/(?:[A-Za-z0-9._~-]+\/)*$/.test(p) || /\/\.{1,2}\//.test(p)) return { problem: "must be a URL path of plain segments, such as '/' or '/chat/'" };
  if (RESERVED_WEB_PATHS.some((r) => p.startsWith(r))) return { problem: 'must not be under /_matrix, /_synapse, /_hearth, /.well-known or /metrics' };
  return p;
}

/** Reads the YAML file (if any) and applies env overrides. */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError([`${path}: cannot read the config file (${(e as Error).message})`]);
    }
    try {
      raw = YAML.parse(text) ?? {};
    } catch (e) {
      throw new ConfigError([`${path}: not valid YAML (${(e as Error).message.split('\n')[0]})`]);
    }
  }
  return buildConfig(raw, env);
}

/** The default configuration as a commented YAML document (`hearth generate-config`). */
export function generateConfigYaml(): string {
  const lines: string[] = ['# Hearth configuration. Every key is optional; the values shown are the defaults.', ''];
  const walk = (shape: Shape, indent: string) => {
    for (const [k, v] of Object.entries(shape)) {
      if (isLeaf(v)) {
        lines.push(`${indent}# ${v.doc}`);
        lines.push(`${indent}${k}: ${JSON.stringify(v.default)}`);
      } else {
        lines.push(`${indent}${k}:`);
        walk(v, indent + '  ');
      }
    }
  };
  walk(CONFIG_SHAPE, '');
  return lines.join('\n') + '\n';
}

/** Base URL that clients should use, for .well-known. */
export function publicBaseUrl(config: Config): string {
  if (config.public_baseurl) return config.public_baseurl.replace(/\/+$/, '');
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? config.server_name : config.listen.host;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${config.listen.port}`;
}
