// Migrations (src/storage/migrate.ts): numbered 0001, 0002, ... without gaps or duplicates (a migration
// never runs after one with a higher number); each applies once, in order.
// SQLite only (jest.config.js): the runner of the SQLite dialect; the PostgreSQL runner has its own
// tests (postgres-migrate.pg.test.ts) and dialects.pg.test.ts compares the two sequences.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, migrate, MigrationError } from '../../src/storage/migrate.js';

describe('loadMigrations and migrate', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hearth-migrations-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, sql: string) => writeFileSync(join(dir, name), sql);

  it('refuses a gap in the numbering', () => {
    file('0001_a.sql', 'CREATE TABLE a (x INTEGER);');
    file('0003_c.sql', 'CREATE TABLE c (x INTEGER);');
    expect(() => loadMigrations(dir)).toThrow(MigrationError);
  });

  it('applies each migration once, in order', () => {
    file('0001_a.sql', 'CREATE TABLE a (x INTEGER);');
    const db = new Database(':memory:');
    expect(migrate(db, loadMigrations(dir), () => 1)).toEqual(['0001_a']);
    file('0002_b.sql', 'CREATE TABLE b (x INTEGER);');
    expect(migrate(db, loadMigrations(dir), () => 2)).toEqual(['0002_b']);
    expect(migrate(db, loadMigrations(dir), () => 3)).toEqual([]);
    expect(db.prepare('SELECT id FROM schema_migrations ORDER BY id').pluck().all()).toEqual([1, 2]);
    db.close();
  });

  it('refuses two migrations with one number', () => {
    file('0001_a.sql', 'SELECT 1;');
    file('0001_b.sql', 'SELECT 1;');
    expect(() => loadMigrations(dir)).toThrow(MigrationError);
  });

  it('the real migrations apply to an empty database', () => {
    const db = new Database(':memory:');
    const names = migrate(db, loadMigrations(), () => 1);
    expect(names).toContain('0008_admin_api');
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'room_blocks'").pluck().get()).toBe('room_blocks');
    db.close();
  });
});
