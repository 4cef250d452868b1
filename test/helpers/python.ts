// Running the real Python tools (matrix-nio, matrix-commander, synadm) against a real Hearth: the
// venv comes from HEARTH_TEST_VENV (.ci/run makes it from test/python/requirements.txt), else
// .venv-test/ in the repository. A test that needs it fails with a message saying how to make it;
// it never skips.
//
//   const hs = await startToolServer({ server_events: { compat_sender_localpart: 'notices' } });
//   const r = await runPython('nio_client.py', [hs.url, '@u:localhost', 'pw', 'compat']);
//   const out = await runTool('synadm', ['-c', cfg, 'user', 'list']);
//   await hs.stop();
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConfig, type Config } from '../../src/config.js';
import { startServer } from '../../src/main.js';
import type { Services } from '../../src/services.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPTS = join(REPO, 'test', 'python');

/** The venv with the tools: HEARTH_TEST_VENV or <repo>/.venv-test; throws (fails the test) when it is missing. */
export function testVenv(): string {
  const dir = process.env.HEARTH_TEST_VENV ? resolve(REPO, process.env.HEARTH_TEST_VENV) : join(REPO, '.venv-test');
  const python = join(dir, 'bin', 'python');
  if (!existsSync(python)) {
    throw new Error(
      `The Python tools venv is missing (no ${python}). Make it with:\n` +
        '  npm run test:venv   (python3 -m venv .venv-test && .venv-test/bin/pip install -r test/python/requirements.txt)\n' +
        'or run bash .ci/run (it does that), or point HEARTH_TEST_VENV at an existing one.',
    );
  }
  return dir;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = execFile(file, args, {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', HOME: opts.cwd ?? process.env.HOME ?? REPO, ...opts.env },
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') {
        fail(new Error(`${file} ${args.join(' ')} did not finish: ${err.message}\n${stderr}`));
        return;
      }
      done({ code: err ? ((err as { code: number }).code) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs test/python/<script> with the venv's Python. */
export function runPython(script: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(join(testVenv(), 'bin', 'python'), [join(SCRIPTS, script), ...args], opts);
}

/** Runs a command-line tool installed in the venv (synadm, matrix-commander). */
export function runTool(tool: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return run(join(testVenv(), 'bin', tool), args, opts);
}

/** The last line of stdout that is a JSON value (tools may log before it). */
export function lastJson<T = unknown>(r: RunResult): T {
  const lines = r.stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines.slice(i).join('\n')) as T;
    } catch {
      // keep looking further up (pretty-printed JSON spans lines)
    }
  }
  throw new Error(`no JSON on stdout (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
}

export interface ToolServer {
  url: string;
  config: Config;
  services: Services;
  stop(): Promise<void>;
}

/**
 * A real Hearth on 127.0.0.1 (a free port, SQLite in memory, server name `localhost`, rate limits off,
 * logs silent) through the production start-up path; `overrides` are config values.
 */
export async function startToolServer(overrides: Record<string, unknown> = {}): Promise<ToolServer> {
  testVenv(); // fail early, before a server starts, when the tools are missing
  const config = buildConfig({
    server_name: 'localhost',
    listen: { host: '127.0.0.1', port: 0 },
    database: { path: ':memory:' },
    logging: { level: 'silent' },
    ...overrides,
    rate_limits: { enabled: false, ...((overrides.rate_limits as object) ?? {}) },
  });
  const running = await startServer(config);
  return { url: running.url, config, services: running.services, stop: () => running.stop() };
}
