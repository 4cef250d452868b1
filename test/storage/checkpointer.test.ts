// WAL checkpoints in a worker thread (src/storage/sqlite/checkpointer.ts): the main connection never
// checkpoints by itself, the worker copies the WAL back into the database file once it passed the
// threshold, and closing stops the worker and gives the connection its automatic checkpoint back.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../../src/storage/sqlite/index.js';

const waitFor = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('the WAL checkpointer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-ckpt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns the connection\'s automatic checkpoint off and checkpoints from its worker past the threshold', async () => {
    const path = join(dir, 'a.db');
    const s = openSqliteStorage(path, Date.now, { checkpointer: { thresholdBytes: 256 * 1024, intervalMs: 5 } });
    try {
      expect(s.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      s.db.exec('CREATE TABLE filler (v BLOB)');
      const before = statSync(path).size;
      const insert = s.db.prepare('INSERT INTO filler (v) VALUES (?)');
      for (let i = 0; i < 200; i++) insert.run(Buffer.alloc(4096, i));
      // 800 KiB written to the WAL only; the worker copies it into the database file.
      await waitFor(() => statSync(path).size >= before + 800 * 1024);
      expect(s.db.prepare('SELECT COUNT(*) FROM filler').pluck().get()).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('leaves a database below the threshold alone', async () => {
    const path = join(dir, 'b.db');
    const s = openSqliteStorage(path, Date.now, { checkpointer: { thresholdBytes: 64 * 1024 * 1024, intervalMs: 5 } });
    try {
      s.db.exec('CREATE TABLE filler (v BLOB)');
      const before = statSync(path).size;
      const insert = s.db.prepare('INSERT INTO filler (v) VALUES (?)');
      for (let i = 0; i < 50; i++) insert.run(Buffer.alloc(4096, i));
      await new Promise((r) => setTimeout(r, 100));
      expect(statSync(path).size).toBe(before);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(50 * 4096);
    } finally {
      await s.close();
    }
  });

  it('is off for an in-memory database and when disabled, which keep SQLite\'s automatic checkpoint', async () => {
    const mem = openSqliteStorage(':memory:');
    const off = openSqliteStorage(join(dir, 'c.db'), Date.now, { checkpointer: false });
    try {
      expect(off.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
      expect(mem.db.pragma('journal_mode', { simple: true })).toBe('memory');
    } finally {
      await mem.close();
      await off.close();
    }
  });

  it('closes cleanly: the data survives a reopen', async () => {
    const path = join(dir, 'd.db');
    const s = openSqliteStorage(path, Date.now, { checkpointer: { thresholdBytes: 4096, intervalMs: 5 } });
    s.db.exec('CREATE TABLE t (v TEXT)');
    s.db.prepare('INSERT INTO t (v) VALUES (?)').run('kept');
    await s.close();
    const again = openSqliteStorage(path);
    try {
      expect(again.db.prepare('SELECT v FROM t').pluck().all()).toEqual(['kept']);
    } finally {
      await again.close();
    }
  });
});
