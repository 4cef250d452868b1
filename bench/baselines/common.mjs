// Shared by both baselines: the same JSON answers and the same minimal long-poll, so a baseline can
// take every load shape of the suite. Nothing here knows Matrix beyond the URL shapes it is sent.
import { randomBytes } from 'node:crypto';

/** {"event_id":"$" + 43 chars}: the same size as Hearth's send response. */
export const eventId = () => `$${randomBytes(32).toString('base64url')}`;

const padCache = new Map();
/** A JSON body of exactly `bytes` bytes (at least 10): what a GET of that size costs a bare server. */
export function padded(bytes) {
  let s = padCache.get(bytes);
  if (s === undefined) {
    const n = Math.max(0, bytes - '{"pad":""}'.length);
    s = `{"pad":"${'x'.repeat(n)}"}`;
    if (padCache.size < 64) padCache.set(bytes, s);
  }
  return s;
}

/**
 * A minimal /sync: every PUT to /rooms/{roomId}/send/... appends to that room's log under a global
 * sequence number; GET .../sync?rooms=a,b&since=N&timeout=T answers at once with newer events of those
 * rooms or parks until one arrives or the timeout passes. Answers in Hearth's /sync shape (subset).
 */
export function createFanout() {
  let seq = 0;
  const logs = new Map(); // roomId -> [{seq, event}]
  const parked = new Map(); // roomId -> Set<waiter>
  let waiting = 0;
  const MAX_LOG = 1000;

  function collect(rooms, since) {
    let found = false;
    const join = {};
    for (const r of rooms) {
      const log = logs.get(r);
      if (!log) continue;
      const events = [];
      for (let i = log.length - 1; i >= 0 && log[i].seq > since; i--) events.push(log[i].event);
      if (events.length > 0) {
        found = true;
        join[r] = { timeline: { events: events.reverse(), limited: false } };
      }
    }
    return found ? JSON.stringify({ next_batch: String(seq), rooms: { join } }) : undefined;
  }

  return {
    get waiting() { return waiting; },
    /** Records a send; wakes waiters of the room. */
    send(roomId, content, sender) {
      const id = eventId();
      const event = { event_id: id, type: 'm.room.message', sender, content };
      seq++;
      let log = logs.get(roomId);
      if (!log) logs.set(roomId, (log = []));
      log.push({ seq, event });
      if (log.length > MAX_LOG) log.splice(0, log.length - MAX_LOG);
      const set = parked.get(roomId);
      if (set) for (const w of [...set]) w.wake();
      return id;
    },
    /** answer(bodyString) is called once. */
    sync(rooms, since, timeoutMs, answer, onClose) {
      const now = collect(rooms, since);
      if (now !== undefined || timeoutMs <= 0) {
        answer(now ?? JSON.stringify({ next_batch: String(seq), rooms: { join: {} } }));
        return;
      }
      let done = false;
      const w = {
        wake() {
          const body = collect(rooms, since);
          if (body !== undefined) finish(body);
        },
      };
      const finish = (body) => {
        if (done) return;
        done = true;
        waiting--;
        clearTimeout(timer);
        for (const r of rooms) parked.get(r)?.delete(w);
        answer(body);
      };
      const timer = setTimeout(() => finish(JSON.stringify({ next_batch: String(seq), rooms: { join: {} } })), Math.min(timeoutMs, 300_000));
      waiting++;
      for (const r of rooms) {
        let set = parked.get(r);
        if (!set) parked.set(r, (set = new Set()));
        set.add(w);
      }
      onClose(() => {
        if (done) return;
        done = true;
        waiting--;
        clearTimeout(timer);
        for (const r of rooms) parked.get(r)?.delete(w);
      });
    },
  };
}

const SEND_RE = /\/rooms\/([^/]+)\/send\//;
export function roomOfSend(path) {
  const m = SEND_RE.exec(path);
  return m ? decodeURIComponent(m[1]) : undefined;
}

export function portFromArgs() {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
  return Number.isInteger(port) ? port : 0;
}
