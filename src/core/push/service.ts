// Push rules per user (matrix-spec: pushrules.yaml; modules/push.md). A user's rules are the spec's
// defaults until they change one; then the whole ruleset is stored as `m.push_rules` account data,
// which is also how clients receive it in /sync. Rules are evaluated when an event is persisted, and
// the notifying events feed `unread_notifications`.
import type { SyncStore, PushActionRecord } from '../../storage/types.js';
import type { AccountDataService } from '../account-data.js';
import { userPowerLevel, type StateLookup } from '../auth-rules.js';
import type { JsonObject, StoredEvent } from '../events/types.js';
import { joinedMembers, lookupIn, type RoomState } from '../events/writer.js';
import { KeyedMutex } from '../lock.js';
import { defaultPushRules } from './defaults.js';
import { evaluatePushRules } from './evaluate.js';
import type { PushRuleset } from './types.js';

export class PushService {
  private cache = new Map<string, PushRuleset>();
  private readonly mutex = new KeyedMutex();

  constructor(private readonly store: SyncStore, private readonly accountData: AccountDataService) {}

  /** Another process changed the user's push rules (account data): the cached ruleset is stale. */
  forgetCached(userId: string): void {
    this.cache.delete(userId);
  }

  /** The user's ruleset: stored, or the spec's defaults. */
  async getRules(userId: string): Promise<PushRuleset> {
    const cached = this.cache.get(userId);
    if (cached) return cached;
    const stored = await this.store.getAccountData(userId, '', 'm.push_rules');
    const rules = stored ? (stored as unknown as PushRuleset) : defaultPushRules(userId);
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(userId, rules);
    return rules;
  }

  /** Whether the user has stored rules (otherwise initial sync sends the defaults). */
  async hasStoredRules(userId: string): Promise<boolean> {
    return (await this.store.getAccountData(userId, '', 'm.push_rules')) !== undefined;
  }

  /**
   * Read-modify-write of the user's ruleset, one change at a time per user, so that concurrent
   * requests (clients change several rules at once) never lose one another's change.
   */
  async update(userId: string, change: (rules: PushRuleset) => PushRuleset): Promise<void> {
    await this.mutex.run(userId, async () => this.setRules(userId, change(await this.getRules(userId))));
  }

  /** Replaces the user's ruleset (stored as account data, so /sync delivers it). */
  async setRules(userId: string, rules: PushRuleset): Promise<void> {
    await this.accountData.put(userId, '', 'm.push_rules', rules as unknown as JsonObject);
    this.cache.set(userId, rules);
  }

  /** Whether `userId` lists `sender` in their m.ignored_user_list account data. */
  private async ignores(userId: string, sender: string): Promise<boolean> {
    return (await this.accountData.ignoredBy(userId)).has(sender);
  }

  /** Which joined members (other than the sender) the event notifies, and whether it highlights. */
  async actionsFor(event: StoredEvent, room: RoomState): Promise<PushActionRecord[]> {
    const lookup: StateLookup = lookupIn(room.state);
    const members: { userId: string; displayName?: string }[] = [];
    for (const userId of joinedMembers(room)) {
      const name = lookup('m.room.member', userId)?.content.displayname;
      members.push({ userId, ...(typeof name === 'string' ? { displayName: name } : {}) });
    }
    // room_member_count counts joined members only (modules/push.md "Conditions").
    const joinedCount = members.length;
    // Invites notify their target (.m.rule.invite_for_me), who is not joined.
    if (event.type === 'm.room.member' && event.content.membership === 'invite' && event.state_key !== undefined) {
      members.push({ userId: event.state_key });
    }
    const pl = lookup('m.room.power_levels', '')?.content;
    const notifications = (pl?.notifications && typeof pl.notifications === 'object' ? pl.notifications : {}) as JsonObject;
    const notificationPowerLevels: Record<string, number> = { room: 50 };
    for (const [k, v] of Object.entries(notifications)) if (typeof v === 'number') notificationPowerLevels[k] = v;
    const senderPowerLevel = userPowerLevel(event.sender, lookup, room.version);
    const out: PushActionRecord[] = [];
    for (const m of members) {
      if (m.userId === event.sender) continue;
      // Events (and invites) from an ignored user never reach the ignorer, so they never notify
      // (modules/ignore_users.md).
      if (await this.ignores(m.userId, event.sender)) continue;
      const outcome = evaluatePushRules(await this.getRules(m.userId), event, {
        userId: m.userId,
        ...(m.displayName !== undefined ? { displayName: m.displayName } : {}),
        roomMemberCount: joinedCount,
        senderPowerLevel,
        notificationPowerLevels,
      });
      if (outcome?.notify) out.push({ userId: m.userId, highlight: outcome.highlight, tweaks: outcome.tweaks });
    }
    return out;
  }
}
