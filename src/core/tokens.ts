// Every token Hearth hands to clients, in one place. They are opaque to clients; these are the rules.
//
// One global position orders everything a client syncs (design-notes.md "One position for everything
// a client syncs"): events, membership changes, receipts, typing, presence, to-device messages and
// account data each get the next position of one counter.
//
//   s<N>        A sync token (`next_batch` of /sync, `since`): "everything up to and including
//               position N". A sync from it returns the changes with positions > N. Also accepted as
//               a /messages `from`/`to` (the `prev_batch` of a sync timeline is an `s` token).
//   s<N>~<T>    A sync token whose to-device delivery was cut short at position T <= N (more than one
//               page of to-device messages was waiting): the next sync resumes to-device messages
//               after T and everything else after N. T > N is refused.
//   t<D>_<N>    A /messages and /context pagination token (`start`, `end`): a place in the room's
//               topological order (spec/event-graph.md), the event of depth D that arrived at stream
//               position N (N is negative for history fetched later, backfill). Paging backwards from
//               it returns events before that place in (depth, arrival) order, forwards those after.
//   t<N>        The pagination token of earlier Hearth versions: stream position N, still accepted;
//               like an `s` token it stands for the room's newest event at or before position N.
//
// D, N and T are decimal, at most 15 digits. Any other form, from any client, is 400 M_INVALID_PARAM
// naming the parameter.
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

/** A place in a room's topological order: depth, then arrival (stream position). */
export interface TopologicalToken {
  depth: number;
  streamOrdering: number;
}

/** A /messages pagination token for a place in the room's topological order. */
export const pagingToken = (t: TopologicalToken): string => `t${t.depth}_${t.streamOrdering}`;

/** A parsed /messages token: a topological place, or a stream position (`s` tokens, old `t<N>`). */
export type PagingToken = { topological: TopologicalToken } | { stream: number };

export function parsePagingToken(token: string, name: string): PagingToken {
  const topo = /^t(\d{1,15})_(-?\d{1,15})$/.exec(token);
  if (topo) return { topological: { depth: Number(topo[1]), streamOrdering: Number(topo[2]) } };
  const m = /^(?:t(\d{1,15})|s(\d{1,15})(?:~\d{1,15})?)$/.exec(token);
  if (!m) throw invalidParam(`Invalid ${name} token`);
  return { stream: Number(m[1] ?? m[2]) };
}
