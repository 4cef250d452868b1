// Where the official Matrix spec is: MATRIX_SPEC_DIR (CI sets it), else ../shared/matrix-spec beside
// the repository. Tests that read it fail with a clear message when it is missing.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function matrixSpecDir(): string {
  const dir = process.env.MATRIX_SPEC_DIR ? resolve(REPO, process.env.MATRIX_SPEC_DIR) : join(REPO, '..', 'shared', 'matrix-spec');
  if (!existsSync(join(dir, 'bundled', 'client-server.json'))) {
    throw new Error(`The official Matrix spec is not at ${dir} (bundled/client-server.json missing): set MATRIX_SPEC_DIR`);
  }
  return dir;
}
