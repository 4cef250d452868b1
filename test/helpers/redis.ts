// A throwaway redis-server on a free loopback port for one test file (no persistence), stopped after
// it. A test that needs Redis and cannot start it fails with the reason (never skips): install
// Debian's `redis-server` package (.ci/run does when it is missing).
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './net.js';

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' }, () => s.write('PING\r\n'));
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      s.destroy();
      resolve(d.startsWith('+PONG'));
    });
    s.on('error', () => resolve(false));
  });
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess;
  let stderr = '';
  let exited: string | undefined;
  try {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`Redis is needed by this test and redis-server could not start: ${(e as Error).message} (apt-get install -y redis-server)`);
  }
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  child.on('error', (e) => (exited = e.message));
  child.on('exit', (code) => (exited ??= `exit code ${code}`));
  const end = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (exited !== undefined || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`Redis is needed by this test and redis-server could not start (${exited ?? 'no answer within 10 s'}): ${stderr.trim()} (apt-get install -y redis-server)`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await done;
    },
  };
}
