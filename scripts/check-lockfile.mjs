#!/usr/bin/env node
// Checks package-lock.json for the defects that make `npm install` / `npm ci` fail on a clean copy:
//  - a package entry without `version` (links aside): npm's tree builder stops with "Invalid Version:";
//  - a dependency (regular or optional) that no entry satisfies by Node's lookup rules: `npm ci`
//    stops with "Missing: <name> from lock file" (the optional platform packages of napi-rs modules).
// Prints every problem and exits 1, or prints "lockfile ok" and exits 0.
// Usage: node scripts/check-lockfile.mjs [path/to/package-lock.json]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Returns the list of problems found in a parsed lockfile (v2/v3 `packages` map). */
export function lockfileProblems(lock) {
  const problems = [];
  const packages = lock?.packages;
  if (!packages || typeof packages !== 'object') return ['no "packages" map (lockfileVersion 2 or 3 expected)'];
  for (const [key, entry] of Object.entries(packages)) {
    if (key === '' || entry.link) continue;
    if (typeof entry.version !== 'string' || entry.version === '') {
      problems.push(`${key}: entry without "version" (npm fails with "Invalid Version:")`);
    }
  }
  for (const [key, entry] of Object.entries(packages)) {
    if (entry.link) continue;
    const deps = { ...(entry.dependencies ?? {}), ...(entry.optionalDependencies ?? {}) };
    if (key === '') Object.assign(deps, entry.devDependencies ?? {});
    for (const name of Object.keys(deps)) {
      if (!resolves(packages, key, name) && !(entry.peerDependenciesMeta?.[name]?.optional)) {
        problems.push(`${key || '(root)'}: dependency ${name} has no entry (npm ci fails with "Missing: ${name} from lock file")`);
      }
    }
  }
  return problems;
}

/** Node's lookup: <dir>/node_modules/<name>, then each parent directory's node_modules. */
function resolves(packages, fromKey, name) {
  let dir = fromKey;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (candidate in packages) return true;
    if (!dir) return false;
    const idx = dir.lastIndexOf('/node_modules/');
    dir = idx >= 0 ? dir.slice(0, idx) : '';
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
  const problems = lockfileProblems(JSON.parse(readFileSync(file, 'utf8')));
  if (problems.length > 0) {
    console.error(`package-lock.json is broken: npm install and npm ci would fail on a clean copy.`);
    for (const p of problems) console.error(`  - ${p}`);
    console.error('Rewrite it with a normal `rm -rf node_modules package-lock.json && npm install` of a current npm.');
    process.exit(1);
  }
  console.log('lockfile ok');
}
