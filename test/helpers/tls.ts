// A self-signed certificate for tests of TLS listeners, made at test time with the openssl CLI
// (node:crypto makes keys but not X.509 certificates). Valid for localhost, 127.0.0.1 and ::1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  dir: string;
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
  /** Deletes the files. */
  remove(): void;
}

export function makeSelfSignedCertificate(commonName = 'localhost'): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${commonName}`,
      '-addext', `subjectAltName=DNS:${commonName},DNS:localhost,IP:127.0.0.1,IP:::1`,
    ], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('These tests make a self-signed certificate with the openssl command, which is not installed (Debian: apt-get install openssl)');
    throw new Error(`openssl could not make a self-signed certificate: ${err.stderr?.toString() ?? err.message}`);
  }
  return {
    dir, certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
