// The version number has one source: package.json (httpkom seed: "single sourcing package version").
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// src/version.ts and dist/version.js are both one level below the package root.
const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { name: string; version: string };

export const SERVER_NAME_SOFTWARE = 'Hearth';
export const VERSION: string = pkg.version;
