// Stream tokens. One global position orders everything a client syncs (design-notes.md), so a token
// is that position: `s<N>` means "everything up to and including position N". Events "after" the
// token have positions > N; paging backwards from it returns events with positions <= N.
// A sync token may carry a second part `~<T>` when to-device delivery was cut short at position T.
import { invalidParam } from '../errors.js';

export interface SyncToken {
  position: number;
  /** To-device messages up to here were delivered (defaults to `position`). */
  toDevice: number;
}

export const streamToken = (position: number): string => `s${position}`;

export function formatSyncToken(t: SyncToken): string {
  return t.toDevice === t.position ? streamToken(t.position) : `s${t.position}~${t.toDevice}`;
}

/** Parses a token from a client; anything else is 400 M_INVALID_PARAM. */
export function parseSyncToken(token: string, name = 'since'): SyncToken {
  const m = /^s(\d{1,15})(?:~(\d{1,15}))?$/.exec(token);
  if (!m) throw invalidParam(`Invalid ${name} token`);
  const position = Number(m[1]);
  const toDevice = m[2] !== undefined ? Number(m[2]) : position;
  if (toDevice > position) throw invalidParam(`Invalid ${name} token`);
  return { position, toDevice };
}
