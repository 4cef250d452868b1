// The lockfile guard (scripts/check-lockfile.mjs) that .ci/run runs before `npm ci`: the committed
// lockfile passes, and the two defects that broke clean installs are reported with a clear message.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const script = path.resolve('scripts/check-lockfile.mjs');

function check(file?: string) {
  const r = spawnSync(process.execPath, file ? [script, file] : [script], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('scripts/check-lockfile.mjs', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'hearth-lock-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(lock: unknown): string {
    const file = path.join(dir, `lock-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(lock));
    return file;
  }

  it('accepts the committed package-lock.json', () => {
    const r = check();
    expect(r.out).toContain('lockfile ok');
    expect(r.status).toBe(0);
  });

  it('refuses an entry without a version (npm: "Invalid Version:")', () => {
    const r = check(write({
      lockfileVersion: 3,
      packages: {
        '': { dependencies: { a: '^1.0.0' } },
        'node_modules/a': { version: '1.0.0', optionalDependencies: { b: '1.0.0' } },
        'node_modules/a/node_modules/b': { optional: true },
      },
    }));
    expect(r.status).toBe(1);
    expect(r.out).toContain('node_modules/a/node_modules/b: entry without "version"');
  });

  it('refuses an optional dependency with no entry (npm ci: "Missing: ... from lock file")', () => {
    const r = check(write({
      lockfileVersion: 3,
      packages: {
        '': { devDependencies: { a: '^1.0.0' } },
        'node_modules/a': { version: '1.0.0', optionalDependencies: { 'a-linux-x64': '1.0.0' } },
      },
    }));
    expect(r.status).toBe(1);
    expect(r.out).toContain('Missing: a-linux-x64 from lock file');
  });

  it('resolves a dependency from a parent node_modules, as Node does', () => {
    const r = check(write({
      lockfileVersion: 3,
      packages: {
        '': { dependencies: { a: '^1.0.0' } },
        'node_modules/a': { version: '1.0.0', dependencies: { b: '^1.0.0' } },
        'node_modules/a/node_modules/c': { version: '1.0.0', dependencies: { b: '^1.0.0' } },
        'node_modules/b': { version: '1.0.0' },
        'node_modules/linked': { link: true, resolved: 'packages/linked' },
      },
    }));
    expect(r.out).toContain('lockfile ok');
    expect(r.status).toBe(0);
  });
});
