// WAL checkpoints off the main thread (issue 20). In WAL mode SQLite's automatic checkpoint runs inside
// the COMMIT of whichever transaction crosses 1,000 WAL pages, on the thread that committed: with
// better-sqlite3 that is the event loop, so every few dozen sends one request pays for copying the WAL
// back into the database file. Here the main connection's automatic checkpoint is off and a worker
// thread, with a connection of its own to the same file, runs PASSIVE checkpoints whenever the WAL has
// grown past a threshold (PASSIVE never waits for, nor blocks, the writer or the readers). Should the
// worker fail, the main connection's automatic checkpoint is turned back on, so the WAL never grows
// without bound.
import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker: polls the WAL's size and checkpoints when it passed the threshold. CommonJS, evaluated. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const wal = workerData.path + '-wal';
const tick = () => {
  let size = 0;
  try { size = statSync(wal).size; } catch { return; }
  if (size < workerData.thresholdBytes) return;
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next tick */ }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.postMessage('closed');
});
`;

export interface Checkpointer {
  /** Stops the worker (its connection closed) before the main connection closes. */
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  /** WAL size that triggers a checkpoint (default 4 MiB, about SQLite's 1,000 pages). */
  thresholdBytes?: number;
  /** How often the worker looks at the WAL's size (default 50 ms). */
  intervalMs?: number;
}

/** Moves a file database's WAL checkpoints to a worker thread; `:memory:` databases need none. */
export function startCheckpointer(db: Database.Database, path: string, opts: CheckpointerOptions = {}): Checkpointer {
  const modulePath = createRequire(import.meta.url).resolve('better-sqlite3');
  db.pragma('wal_autocheckpoint = 0');
  let worker: Worker | undefined;
  const fallBack = () => {
    worker = undefined;
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  };
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: modulePath, path, thresholdBytes: opts.thresholdBytes ?? 4 * 1024 * 1024, intervalMs: opts.intervalMs ?? 50 },
    });
  } catch {
    fallBack();
    return { async stop() {} };
  }
  worker.unref();
  worker.on('error', fallBack);
  worker.on('exit', () => { if (worker) fallBack(); });
  return {
    async stop() {
      const w = worker;
      if (!w) return;
      worker = undefined;
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        w.once('exit', done);
        w.on('message', (m) => { if (m === 'closed') void w.terminate(); });
        w.postMessage('close');
        setTimeout(() => void w.terminate(), 2000).unref();
      });
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    },
  };
}
