// openSqliteStorage's connection settings: WAL with synchronous=NORMAL (durability as documented),
// and the page cache from database.cache_mb.
// SQLite only (jest.config.js): SQLite's own connection settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../../src/storage/sqlite/index.js';

describe('openSqliteStorage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses WAL, synchronous=NORMAL and a 64 MiB page cache by default', async () => {
    const s = openSqliteStorage(join(dir, 'a.db'));
    try {
      expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(s.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
      expect(s.db.pragma('cache_size', { simple: true })).toBe(-64 * 1024);
    } finally {
      await s.close();
    }
  });

  it('takes the page cache size from the option (database.cache_mb)', async () => {
    const s = openSqliteStorage(join(dir, 'b.db'), Date.now, { cacheMb: 8 });
    try {
      expect(s.db.pragma('cache_size', { simple: true })).toBe(-8 * 1024);
    } finally {
      await s.close();
    }
  });
});
