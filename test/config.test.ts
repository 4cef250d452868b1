// Configuration (issue 2 "Configuration"): defaults, env overrides, one error listing every problem,
// generate-config round trip.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { buildConfig, ConfigError, describeDatabase, generateConfigYaml, loadConfig, publicBaseUrl, redactUrl } from '../src/config.js';

/** Runs `fn`, which must throw a ConfigError, and returns that error. */
function configError(fn: () => unknown): ConfigError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

/** The defaults issue 2 documents (later issues add keys of their own; those are not pinned here). */
const ISSUE2_DEFAULTS = {
  server_name: 'localhost',
  public_baseurl: null,
  listen: { host: '127.0.0.1', port: 8008 },
  database: { path: './data/hearth.db' },
  enable_registration: true,
  allow_guest_access: true,
  registration_shared_secret: null,
  password_min_length: 8,
  max_request_body_bytes: 1048576,
  rate_limits: {
    enabled: true,
    login: { per_second: 0.2, burst: 5 },
    failed_login: { per_second: 0.1, burst: 3 },
    registration: { per_second: 0.2, burst: 5 },
    message: { per_second: 5, burst: 20 },
    invite: { per_second: 0.5, burst: 10 },
    invite_per_invitee: { per_second: 0.2, burst: 5 },
  },
  jwt_login: { enabled: false, secret: null, algorithm: 'HS256', issuer: null, audiences: [] },
  logging: { level: 'info' },
};

describe('buildConfig defaults', () => {
  it('gives every documented default for an empty file', () => {
    expect(buildConfig({}, {})).toMatchObject(ISSUE2_DEFAULTS);
  });

  it('gives the defaults for a missing or null document', () => {
    expect(buildConfig(undefined, {})).toEqual(buildConfig({}, {}));
    expect(buildConfig(null, {})).toEqual(buildConfig({}, {}));
  });

  it('keeps the defaults of keys a partial section leaves out', () => {
    const c = buildConfig({ listen: { port: 9000 }, rate_limits: { login: { burst: 9 } } }, {});
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(c.rate_limits.login).toEqual({ per_second: 0.2, burst: 9 });
    expect(c.rate_limits.failed_login).toEqual({ per_second: 0.1, burst: 3 });
    expect(c.rate_limits.enabled).toBe(true);
  });

  it('takes the values given in the file', () => {
    const c = buildConfig({
      server_name: 'example.org',
      database: { path: ':memory:' },
      enable_registration: false,
      registration_shared_secret: 's3cret',
      password_min_length: 12,
      max_request_body_bytes: 2048,
      jwt_login: { enabled: true, secret: 'k', algorithm: 'HS512', issuer: 'iss', audiences: ['a', 'b'] },
    }, {});
    expect(c.server_name).toBe('example.org');
    expect(c.database.path).toBe(':memory:');
    expect(c.enable_registration).toBe(false);
    expect(c.registration_shared_secret).toBe('s3cret');
    expect(c.password_min_length).toBe(12);
    expect(c.max_request_body_bytes).toBe(2048);
    expect(c.jwt_login).toEqual({ enabled: true, secret: 'k', algorithm: 'HS512', issuer: 'iss', audiences: ['a', 'b'] });
  });

  it('does not share default objects between configs', () => {
    const a = buildConfig({}, {});
    a.jwt_login.audiences.push('mutated');
    a.listen.port = 1;
    const b = buildConfig({}, {});
    expect(b.jwt_login.audiences).toEqual([]);
    expect(b.listen.port).toBe(8008);
  });

  it('does not modify the object it is given', () => {
    const input = { listen: { port: 9000 } };
    buildConfig(input, { HEARTH_PORT: '7000', HEARTH_BIND: '0.0.0.0' });
    expect(input).toEqual({ listen: { port: 9000 } });
  });
});

describe('environment overrides', () => {
  it('applies HEARTH_SERVER_NAME, HEARTH_PORT, HEARTH_BIND and HEARTH_DATABASE', () => {
    const c = buildConfig({}, {
      HEARTH_SERVER_NAME: 'matrix.example.org',
      HEARTH_PORT: '9008',
      HEARTH_BIND: '0.0.0.0',
      HEARTH_DATABASE: '/var/lib/hearth/db.sqlite',
    });
    expect(c.server_name).toBe('matrix.example.org');
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 9008 });
    expect(c.database.path).toBe('/var/lib/hearth/db.sqlite');
  });

  it('lets the environment win over the file', () => {
    const c = buildConfig(
      { server_name: 'file.example', listen: { host: '127.0.0.1', port: 1234 }, database: { path: 'file.db' } },
      { HEARTH_SERVER_NAME: 'env.example', HEARTH_PORT: '4321', HEARTH_BIND: '::', HEARTH_DATABASE: ':memory:' },
    );
    expect(c.server_name).toBe('env.example');
    expect(c.listen).toEqual({ host: '::', port: 4321 });
    expect(c.database.path).toBe(':memory:');
  });

  it('ignores empty environment variables', () => {
    const c = buildConfig({ server_name: 'file.example' }, { HEARTH_SERVER_NAME: '', HEARTH_PORT: '' });
    expect(c.server_name).toBe('file.example');
    expect(c.listen.port).toBe(8008);
  });

  it('ignores environment variables it does not know', () => {
    expect(buildConfig({}, { HEARTH_NOT_A_SETTING: 'x', PATH: '/usr/bin' })).toEqual(buildConfig({}, {}));
  });

  it('accepts HEARTH_PORT=0 (pick a free port)', () => {
    expect(buildConfig({}, { HEARTH_PORT: '0' }).listen.port).toBe(0);
  });

  it('reports a bad value from the environment under the key it overrides', () => {
    const e = configError(() => buildConfig({}, { HEARTH_PORT: 'eighty' }));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toMatch(/^listen\.port: /);
  });

  it('reports an out-of-range HEARTH_PORT', () => {
    const e = configError(() => buildConfig({}, { HEARTH_PORT: '70000' }));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toMatch(/^listen\.port: /);
  });

  it('applies the other documented overrides (log level, shared secret, registration, rate limits)', () => {
    const c = buildConfig({}, {
      HEARTH_LOG_LEVEL: 'debug',
      HEARTH_REGISTRATION_SHARED_SECRET: 'env-secret',
      HEARTH_ENABLE_REGISTRATION: 'false',
      HEARTH_RATE_LIMITS_ENABLED: 'false',
    });
    expect(c.logging.level).toBe('debug');
    expect(c.registration_shared_secret).toBe('env-secret');
    expect(c.enable_registration).toBe(false);
    expect(c.rate_limits.enabled).toBe(false);
  });
});

describe('validation', () => {
  it('reports unknown keys and bad values together in one ConfigError', () => {
    const e = configError(() => buildConfig({
      server_nmae: 'typo.example',
      listen: { port: 'eighty', hots: '0.0.0.0' },
      password_min_length: 0,
      enable_registration: 'yes',
      rate_limits: { login: { per_second: -1, burst: 1.5 }, bogus: {} },
      jwt_login: { algorithm: 'none' },
    }, {}));
    expect(e.problems).toHaveLength(9);
    expect(e.problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^server_nmae: unknown key/),
      expect.stringMatching(/^listen\.port: /),
      expect.stringMatching(/^listen\.hots: unknown key/),
      expect.stringMatching(/^password_min_length: /),
      expect.stringMatching(/^enable_registration: /),
      expect.stringMatching(/^rate_limits\.login\.per_second: /),
      expect.stringMatching(/^rate_limits\.login\.burst: /),
      expect.stringMatching(/^rate_limits\.bogus: unknown key/),
      expect.stringMatching(/^jwt_login\.algorithm: /),
    ]));
    for (const p of e.problems) expect(e.message).toContain(p);
  });

  it.each([
    ['server_name', { server_name: '' }],
    ['server_name', { server_name: 'not a server name' }],
    ['listen.port', { listen: { port: -1 } }],
    ['listen.port', { listen: { port: 8008.5 } }],
    ['database.path', { database: { path: 42 } }],
    ['database.cache_mb', { database: { cache_mb: 0 } }],
    ['database.cache_mb', { database: { cache_mb: '64MB' } }],
    ['max_request_body_bytes', { max_request_body_bytes: '1MB' }],
    ['registration_shared_secret', { registration_shared_secret: '' }],
    ['jwt_login.audiences', { jwt_login: { audiences: 'hearth' } }],
    ['logging.level', { logging: { level: 'loud' } }],
    ['public_baseurl', { public_baseurl: 'matrix.example.org' }],
    ['listen', { listen: 8008 }],
    ['rate_limits', { rate_limits: [1, 2] }],
    ['media.store_path', { media: { store_path: '' } }],
    ['media.max_upload_bytes', { media: { max_upload_bytes: 0 } }],
    ['media.allow_legacy_unauthenticated', { media: { allow_legacy_unauthenticated: 'yes' } }],
  ])('refuses a bad %s (%j) with a ConfigError naming it', (key, raw) => {
    const e = configError(() => buildConfig(raw, {}));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]!.startsWith(`${key}:`)).toBe(true);
  });

  it('requires jwt_login.secret when jwt_login is enabled', () => {
    const e = configError(() => buildConfig({ jwt_login: { enabled: true } }, {}));
    expect(e.problems).toEqual([expect.stringMatching(/^jwt_login\.secret: /)]);
  });

  it('refuses a document that is not a mapping', () => {
    const e = configError(() => buildConfig(['server_name', 'x'], {}));
    expect(e.problems).toHaveLength(1);
  });

  it('has the media defaults: store beside the database, 50 MiB uploads, legacy unauthenticated media off', () => {
    expect(buildConfig({}, {}).media).toEqual({ store_path: null, max_upload_bytes: 52428800, allow_legacy_unauthenticated: false });
  });

  it('accepts server names with ports and IP literals', () => {
    expect(buildConfig({ server_name: 'example.org:8448' }, {}).server_name).toBe('example.org:8448');
    expect(buildConfig({ server_name: '[::1]:8448' }, {}).server_name).toBe('[::1]:8448');
    expect(buildConfig({ server_name: '10.0.0.1' }, {}).server_name).toBe('10.0.0.1');
  });

  it('names itself ConfigError and lists each problem on its own line', () => {
    const e = configError(() => buildConfig({ a: 1, b: 2 }, {}));
    expect(e.name).toBe('ConfigError');
    expect(e.message.split('\n')).toEqual(['Invalid configuration:', '  - a: unknown key', '  - b: unknown key']);
  });
});

describe('federation keys', () => {
  it('defaults to no federation, a listener on 0.0.0.0:8448 without TLS, verified certificates, anyone, and Synapse\'s blacklist', () => {
    const c = buildConfig({}, {});
    expect(c.federation).toEqual({
      enabled: false,
      listen: { host: '0.0.0.0', port: 8448 },
      tls_certificate_path: null,
      tls_private_key_path: null,
      verify_certificates: true,
      domain_whitelist: null,
    });
    expect(c.ip_range_blacklist).toEqual(expect.arrayContaining(['127.0.0.0/8', '10.0.0.0/8', '169.254.0.0/16', '::1/128', 'fe80::/10', 'fc00::/7']));
    expect(c.ip_range_whitelist).toEqual([]);
    expect(c.rate_limits.federation_transaction).toEqual({ per_second: 20, burst: 100 });
  });

  it('takes a federation section, a whitelist of servers and IP range exceptions', () => {
    const c = buildConfig({
      server_name: 'localhost:8448',
      federation: { enabled: true, listen: { port: 0 }, tls_certificate_path: '/c.pem', tls_private_key_path: '/k.pem', verify_certificates: false, domain_whitelist: ['a.example', 'localhost:9448'] },
      ip_range_whitelist: ['127.0.0.1', '::1', '10.1.0.0/16'],
    }, {});
    expect(c.federation.enabled).toBe(true);
    expect(c.federation.listen).toEqual({ host: '0.0.0.0', port: 0 });
    expect(c.federation.domain_whitelist).toEqual(['a.example', 'localhost:9448']);
    expect(c.ip_range_whitelist).toEqual(['127.0.0.1', '::1', '10.1.0.0/16']);
  });

  it('reports every federation problem at once', () => {
    const e = configError(() => buildConfig({
      federation: { enabled: 'yes', tls_certificate_path: '/c.pem', domain_whitelist: ['ok.example', 'not a server'] },
      ip_range_blacklist: ['10.0.0.0/8', '10.0.0.0/40', 'localhost'],
      ip_range_whitelist: '127.0.0.1',
    }, {}));
    expect(e.problems).toEqual([
      expect.stringMatching(/^federation\.enabled: /),
      expect.stringMatching(/^ip_range_whitelist: must be a list/),
      expect.stringMatching(/^federation\.tls_certificate_path, federation\.tls_private_key_path: set both/),
      expect.stringMatching(/^federation\.domain_whitelist: not a server name \(got "not a server"\)/),
      expect.stringMatching(/^ip_range_blacklist: not an IP address or CIDR range \(got "10\.0\.0\.0\/40"\)/),
      expect.stringMatching(/^ip_range_blacklist: not an IP address or CIDR range \(got "localhost"\)/),
    ]);
  });

  it('refuses a domain_whitelist that is not a list or null', () => {
    const e = configError(() => buildConfig({ federation: { domain_whitelist: 'a.example' } }, {}));
    expect(e.problems).toEqual([expect.stringMatching(/^federation\.domain_whitelist: must be a list of strings or null/)]);
  });
});

describe('database: engine, and the keys of each engine (issue 17)', () => {
  const URL_WITH_SECRET = 'postgres://hearth:s3cret-Pw@db.example:5432/hearth';

  it('defaults to SQLite with its path; the PostgreSQL keys keep their defaults', () => {
    expect(buildConfig({}, {}).database).toEqual({ engine: 'sqlite', path: './data/hearth.db', cache_mb: 64, url: null, pool_size: 10 });
  });

  it('takes postgres with a URL and a pool size, from the file or the environment', () => {
    const c = buildConfig({ database: { engine: 'postgres', url: URL_WITH_SECRET, pool_size: 20 } }, {});
    expect(c.database).toMatchObject({ engine: 'postgres', url: URL_WITH_SECRET, pool_size: 20 });
    const e = buildConfig({}, { HEARTH_DATABASE_ENGINE: 'postgres', HEARTH_DATABASE_URL: 'postgresql://h@127.0.0.1/h' });
    expect(e.database).toMatchObject({ engine: 'postgres', url: 'postgresql://h@127.0.0.1/h' });
  });

  it('refuses postgres without a URL, and a URL of another scheme, without quoting a password', () => {
    expect(configError(() => buildConfig({ database: { engine: 'postgres' } }, {})).problems)
      .toEqual([expect.stringMatching(/^database\.url: required when database\.engine is postgres/)]);
    const e = configError(() => buildConfig({ database: { engine: 'postgres', url: 'mysql://root:hunter2-secret@db/x' } }, {}));
    expect(e.problems).toEqual([expect.stringMatching(/^database\.url: must be a postgres:\/\/ or postgresql:\/\/ URL/)]);
    expect(e.message).not.toContain('hunter2-secret');
    expect(e.message).toContain('(got a mysql: URL)');
    const notUrl = configError(() => buildConfig({ database: { engine: 'postgres', url: 'hearth:hunter2-secret' } }, {}));
    expect(notUrl.message).not.toContain('hunter2-secret');
  });

  it('refuses the keys of the other engine when they are set to anything but their default, every problem at once', () => {
    const e = configError(() => buildConfig({ database: { engine: 'postgres', url: URL_WITH_SECRET, path: '/var/lib/h.db', cache_mb: 8 }, server_name: '' }, {}));
    expect(e.problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^server_name: /),
      'database.path: only used with database.engine: sqlite (the engine is postgres)',
      'database.cache_mb: only used with database.engine: sqlite (the engine is postgres)',
    ]));
    expect(e.problems).toHaveLength(3);
    const s = configError(() => buildConfig({ database: { url: URL_WITH_SECRET, pool_size: 3 } }, {}));
    expect(s.problems).toEqual([
      'database.url: only used with database.engine: postgres (the engine is sqlite)',
      'database.pool_size: only used with database.engine: postgres (the engine is sqlite)',
    ]);
    expect(s.message).not.toContain('s3cret-Pw');
    // HEARTH_DATABASE (a SQLite path) with engine postgres is the same mistake.
    expect(configError(() => buildConfig({ database: { engine: 'postgres', url: URL_WITH_SECRET } }, { HEARTH_DATABASE: 'x.db' })).problems)
      .toEqual(['database.path: only used with database.engine: sqlite (the engine is postgres)']);
  });

  it.each([
    ['database.engine', { database: { engine: 'mysql' } }],
    ['database.pool_size', { database: { engine: 'postgres', url: 'postgres://h@x/h', pool_size: 0 } }],
    ['database.url', { database: { engine: 'postgres', url: '' } }],
  ])('refuses a bad %s (%j)', (key, raw) => {
    const e = configError(() => buildConfig(raw, {}));
    expect(e.problems.some((p) => p.startsWith(`${key}:`))).toBe(true);
  });

  it('describes the database for logs without the password', () => {
    expect(redactUrl(URL_WITH_SECRET)).toBe('postgres://hearth:***@db.example:5432/hearth');
    expect(redactUrl('postgres://h@127.0.0.1/h?password=s3cret-Pw&sslmode=require')).toBe('postgres://h@127.0.0.1/h?password=***&sslmode=require');
    expect(describeDatabase(buildConfig({ database: { engine: 'postgres', url: URL_WITH_SECRET } }, {}))).not.toContain('s3cret-Pw');
    expect(describeDatabase(buildConfig({ database: { path: '/srv/h.db' } }, {}))).toBe('/srv/h.db');
  });
});

describe('generateConfigYaml', () => {
  it('round-trips through a YAML parse and buildConfig to the defaults', () => {
    const text = generateConfigYaml();
    const parsed = YAML.parse(text);
    expect(buildConfig(parsed, {})).toEqual(buildConfig({}, {}));
    expect(buildConfig(parsed, {})).toMatchObject(ISSUE2_DEFAULTS);
  });

  it('writes every key, so the parsed document already equals the defaults', () => {
    expect(YAML.parse(generateConfigYaml())).toEqual(buildConfig({}, {}));
  });

  it('documents every key with a comment', () => {
    const lines = generateConfigYaml().split('\n');
    const leafLines = lines.map((l, i) => ({ l, i })).filter(({ l }) => /^\s*[a-z_]+: \S/.test(l));
    expect(leafLines.length).toBeGreaterThan(20);
    for (const { i } of leafLines) expect(lines[i - 1]).toMatch(/^\s*# \S/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'hearth-config-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a YAML file and applies env overrides on top', () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, 'server_name: file.example\nlisten:\n  port: 9100\n');
    const c = loadConfig(path, { HEARTH_BIND: '0.0.0.0' });
    expect(c.server_name).toBe('file.example');
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 9100 });
  });

  it('gives the defaults without a path', () => {
    expect(loadConfig(undefined, {})).toEqual(buildConfig({}, {}));
  });

  it('treats an empty file as all defaults', () => {
    const path = join(dir, 'empty.yaml');
    writeFileSync(path, '');
    expect(loadConfig(path, {})).toEqual(buildConfig({}, {}));
  });

  it('loads the generated config file unchanged', () => {
    const path = join(dir, 'generated.yaml');
    writeFileSync(path, generateConfigYaml());
    expect(loadConfig(path, {})).toEqual(buildConfig({}, {}));
  });

  it('refuses a missing file with a ConfigError naming the path', () => {
    const path = join(dir, 'does-not-exist.yaml');
    const e = configError(() => loadConfig(path, {}));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toContain(path);
  });

  it('refuses a file that is not valid YAML with a ConfigError naming the path', () => {
    const path = join(dir, 'broken.yaml');
    writeFileSync(path, 'server_name: [unclosed\n  listen: {');
    const e = configError(() => loadConfig(path, {}));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toContain(path);
  });

  it('reports every problem of a file at once', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'nope: 1\nlisten:\n  port: huge\npassword_min_length: -3\n');
    const e = configError(() => loadConfig(path, {}));
    expect(e.problems).toHaveLength(3);
  });
});

describe('publicBaseUrl', () => {
  it('uses the listen address without public_baseurl', () => {
    expect(publicBaseUrl(buildConfig({}, {}))).toBe('http://127.0.0.1:8008');
  });

  it('uses the server name when listening on every address', () => {
    expect(publicBaseUrl(buildConfig({ server_name: 'example.org', listen: { host: '0.0.0.0', port: 8008 } }, {}))).toBe('http://example.org:8008');
  });

  it('brackets an IPv6 listen address', () => {
    expect(publicBaseUrl(buildConfig({ listen: { host: '::1', port: 8008 } }, {}))).toBe('http://[::1]:8008');
  });

  it('strips trailing slashes from public_baseurl', () => {
    expect(publicBaseUrl(buildConfig({ public_baseurl: 'https://m.example.org//' }, {}))).toBe('https://m.example.org');
  });
});
