// Unread notification counts (matrix-spec: modules/push.md "Receiving notifications", "Marking
// notifications as read"; receipts.md "Threaded read receipts"): the notifying events after the newer
// of the user's m.read and m.read.private receipts, each thread (the main timeline is `main`) also after
// the user's newest threaded receipt of that thread. /sync shows them; push notifications carry a badge.
import type { SyncStore } from '../../storage/types.js';

export type ThreadCounts = Map<string, { notifications: number; highlights: number }>;

/** The user's unread notifications in one room, per thread (threads without any are absent). */
export async function unreadByThread(store: SyncStore, userId: string, roomId: string): Promise<ThreadCounts> {
  const read = await store.getReceipt(roomId, 'm.read', userId, '');
  const priv = await store.getReceipt(roomId, 'm.read.private', userId, '');
  const after = Math.max(read?.eventStreamOrdering ?? 0, priv?.eventStreamOrdering ?? 0);
  return store.countNotificationsByThread(userId, roomId, after);
}

/** All threads of a room together. */
export function total(counts: ThreadCounts): { notifications: number; highlights: number } {
  let notifications = 0;
  let highlights = 0;
  for (const c of counts.values()) {
    notifications += c.notifications;
    highlights += c.highlights;
  }
  return { notifications, highlights };
}
