// The notifier of a cluster (spec/scaling.md "Wake-ups"): a change at position P for users U is
// published on the cluster channel as (U, P), never its data; every process, the publishing one
// included, wakes its own waiters of U once P is visible there (SharedStreamPositions), and the
// woken /sync reads the change from storage and the replicated live state like any other sync.
import type { Notifier } from '../core/notifier.js';
import type { Cluster } from './bus.js';

interface Visibility {
  whenVisible(pos: number, fn: () => void): void;
}

export class ClusterNotifier implements Notifier {
  constructor(private readonly cluster: Cluster, private readonly inner: Notifier, positions: () => Visibility | undefined) {
    cluster.on('notify', (m) => {
      const users = m.u as string[];
      const pos = Number(m.p);
      const p = positions();
      if (!p) this.inner.notify(users, pos);
      else p.whenVisible(pos, () => this.inner.notify(users, pos));
    }, true);
  }

  get waiting(): number {
    return this.inner.waiting;
  }

  wait(userId: string, after: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.inner.wait(userId, after, timeoutMs, signal);
  }

  notify(userIds: Iterable<string>, position: number): void {
    const u = [...new Set(userIds)];
    if (u.length > 0) this.cluster.publish({ t: 'notify', u, p: position });
  }
}
