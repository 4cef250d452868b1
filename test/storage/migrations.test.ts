// Migrations that change stored data: a database written at an earlier schema (migrations applied up
// to N-1, rows in that schema's form) is migrated by the current build, and what readers see holds.
// SQLite only (jest.config.js): these rows were written by SQLite databases of older schemas; a
// PostgreSQL database is created by the whole sequence and never holds them.
import Database from 'better-sqlite3';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';

const all = loadMigrations();
const upTo = (n: number) => all.filter((m) => m.id <= n);

function dbAt(n: number): Database.Database {
  const db = new Database(':memory:');
  migrate(db, upTo(n), () => 1);
  return db;
}

describe('0007_review_fixes', () => {
  it('drops prev_content copied into later events, keeping replaces_state and prev_sender', () => {
    const db = dbAt(6);
    db.prepare("INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ('!r:x', '11', '@a:x', 1)").run();
    const insert = db.prepare(`INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, origin_server_ts, depth, json, unsigned_json)
      VALUES (?, ?, '!r:x', 'm.room.topic', '', '@a:x', 1, ?, '{}', ?)`);
    insert.run(1, '$old', 1, null);
    insert.run(2, '$new', 2, JSON.stringify({ replaces_state: '$old', prev_content: { topic: 'SECRET' }, prev_sender: '@a:x' }));
    migrate(db, all, () => 2);
    const rows = db.prepare('SELECT event_id, unsigned_json FROM events ORDER BY stream_ordering').all() as { event_id: string; unsigned_json: string | null }[];
    expect(rows[0]!.unsigned_json).toBeNull();
    expect(JSON.parse(rows[1]!.unsigned_json!)).toEqual({ replaces_state: '$old', prev_sender: '@a:x' });
    db.close();
  });

  it('scopes to-device transaction IDs: earlier rows are kept with an empty scope, and a type-scoped ID is new', () => {
    const db = dbAt(6);
    db.prepare("INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts) VALUES ('@a:x', 'D', 't1', 5)").run();
    migrate(db, all, () => 2);
    expect(db.prepare('SELECT user_id, device_id, scope, txn_id, created_ts FROM to_device_txns').all()).toEqual([
      { user_id: '@a:x', device_id: 'D', scope: '', txn_id: 't1', created_ts: 5 },
    ]);
    const add = db.prepare("INSERT OR IGNORE INTO to_device_txns (user_id, device_id, scope, txn_id, created_ts) VALUES ('@a:x', 'D', ?, 't1', 6)");
    expect(add.run('sendToDevice m.one').changes).toBe(1);
    expect(add.run('sendToDevice m.two').changes).toBe(1);
    expect(add.run('sendToDevice m.two').changes).toBe(0);
    db.close();
  });
});
