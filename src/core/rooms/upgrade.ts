// Room upgrades (matrix-spec: room_upgrades.yaml#upgradeRoom; client-server-api modules/room_upgrades.md
// "Server behaviour"). Under the old room's lock:
//   1. the user must be joined and allowed to send m.room.tombstone (403 M_FORBIDDEN otherwise);
//   2. the replacement room is created through the normal room creation path (EventWriter.createRoom:
//      every event auth-checked, all persisted together) with a create event naming its `predecessor`,
//      the old room's `type` (and m.federate), then the upgrader's join, the power levels (the
//      upgrader raised as far as the copied state needs, and lowered again at the end), the
//      transferable state (upgradeDrafts) and the bans;
//   3. the old room's local aliases move to the new room (and its directory listing);
//   4. the old room gets the m.room.tombstone;
//   5. the old room's power levels then require max(50, users_default + 1) to send events or invite
//      (when the upgrader may change them; otherwise they stay), and its canonical alias is cleared.
import type { Config } from '../../config.js';
import { badJson, forbidden, MatrixError, notFound, unsupportedRoomVersion } from '../../errors.js';
import type { AccountStore, RoomStore } from '../../storage/types.js';
import type { AuthContext } from '../accounts/events.js';
import { isRoomCreator, membershipOf, requiredPowerLevel, userPowerLevel, powerLevelFor, type StateLookup } from '../auth-rules.js';
import type { JsonObject, StoredEvent } from '../events/types.js';
import type { EventDraft, EventWriter } from '../events/writer.js';
import { parseUserId, randomToken } from '../ids.js';
import { KeyedMutex } from '../lock.js';
import { roomVersion, type RoomVersion } from '../room-versions.js';
import { lookupIn, type RoomStateService } from './room-state.js';

/**
 * The state copied to the replacement room (room_upgrades.md "the recommended state events to
 * transfer", plus a space's children and the canonical alias, whose aliases move with it). Member
 * events are not copied, except bans.
 */
export const TRANSFERRED_STATE = [
  'm.room.server_acl', 'm.room.encryption', 'm.room.name', 'm.room.avatar', 'm.room.topic', 'm.room.guest_access',
  'm.room.history_visibility', 'm.room.join_rules', 'm.room.canonical_alias',
] as const;
/** State types copied with every state key. */
const TRANSFERRED_KEYED = ['m.space.child'] as const;
/** Create event content kept in the replacement room. */
const KEPT_CREATE_CONTENT = ['type', 'm.federate'] as const;

export interface UpgradePlan {
  drafts: EventDraft[];
  /** The upgrader was raised in the first power levels; the last draft lowers them again. */
  raised: boolean;
}

export interface UpgradeInput {
  oldState: Map<string, StoredEvent>;
  oldVersion: RoomVersion;
  newVersion: RoomVersion;
  upgrader: string;
  oldRoomId: string;
  /** The last known event of the old room (`predecessor.event_id`). */
  lastEventId: string | undefined;
  /** Creators besides the upgrader (room versions with privileged creators only). */
  additionalCreators: string[];
  /** The upgrader's m.room.member content in the new room. */
  memberContent: JsonObject;
}

const levelOf = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

/**
 * The events of the replacement room, in order: create, the upgrader's join, power levels, the
 * transferred state, bans, and (when the upgrader had to be raised) the power levels as they were.
 */
export function upgradeDrafts(u: UpgradeInput): UpgradePlan {
  const lookup = lookupIn(u.oldState);
  const me = u.upgrader;
  const oldCreate = lookup('m.room.create', '');
  const createContent: JsonObject = { room_version: u.newVersion.id, predecessor: { room_id: u.oldRoomId, ...(u.lastEventId ? { event_id: u.lastEventId } : {}) } };
  for (const k of KEPT_CREATE_CONTENT) if (oldCreate && oldCreate.content[k] !== undefined) createContent[k] = oldCreate.content[k]!;
  if (u.newVersion.createHasCreator) createContent.creator = me;
  const creators = [me];
  if (u.newVersion.privilegedCreators && u.additionalCreators.length > 0) {
    createContent.additional_creators = u.additionalCreators;
    creators.push(...u.additionalCreators);
  }
  const drafts: EventDraft[] = [{ type: 'm.room.create', state_key: '', sender: me, content: createContent }];
  drafts.push({ type: 'm.room.member', state_key: me, sender: me, content: u.memberContent });

  // The state to copy, and the bans.
  const copied: StoredEvent[] = [];
  for (const type of TRANSFERRED_STATE) {
    const e = lookup(type, '');
    if (e && Object.keys(e.content).length > 0) copied.push(e);
  }
  const bans: StoredEvent[] = [];
  for (const e of u.oldState.values()) {
    if ((TRANSFERRED_KEYED as readonly string[]).includes(e.type) && Object.keys(e.content).length > 0) copied.push(e);
    if (e.type === 'm.room.member' && e.content.membership === 'ban' && e.state_key !== me) bans.push(e);
  }

  // Power levels: the old ones, the creators of a version with privileged creators left out of
  // `users` (rooms/v12 auth rule 10.4), the upgrader raised as far as the copied state needs.
  const oldPl = lookup('m.room.power_levels', '');
  const pl: JsonObject = oldPl ? structuredClone(oldPl.content) : {};
  const users: JsonObject = typeof pl.users === 'object' && pl.users !== null && !Array.isArray(pl.users) ? { ...(pl.users as JsonObject) } : {};
  // A creator of a version with privileged creators had infinite power without a listing; in a version
  // without it they are listed at 100.
  if (!u.newVersion.privilegedCreators && oldCreate && u.oldVersion.privilegedCreators
    && isRoomCreator(me, oldCreate, u.oldVersion) && levelOf(users[me]) === undefined) users[me] = 100;
  const listed = levelOf(users[me]);
  let raised = false;
  if (u.newVersion.privilegedCreators) {
    for (const c of creators) delete users[c];
  } else {
    const plEvent = { type: 'm.room.power_levels', state_key: '', content: { ...pl, users } } as unknown as StoredEvent;
    const newLookup: StateLookup = (type, key) => (type === 'm.room.power_levels' && key === '' ? plEvent : undefined);
    const current = listed ?? levelOf(pl.users_default) ?? 0;
    const needed = Math.max(
      requiredPowerLevel('m.room.power_levels', true, newLookup),
      ...copied.map((e) => requiredPowerLevel(e.type, true, newLookup)),
      bans.length > 0 ? powerLevelFor('ban', newLookup) : 0,
    );
    if (current < needed) {
      raised = true;
      users[me] = needed;
    }
  }
  pl.users = users;
  drafts.push({ type: 'm.room.power_levels', state_key: '', sender: me, content: pl });
  for (const e of copied) drafts.push({ type: e.type, state_key: e.state_key ?? '', sender: me, content: e.content });
  for (const b of bans) drafts.push({ type: 'm.room.member', state_key: b.state_key!, sender: me, content: { membership: 'ban', ...(typeof b.content.reason === 'string' ? { reason: b.content.reason } : {}) } });
  if (raised) {
    const restored: JsonObject = { ...pl, users: { ...users } };
    const restoredUsers = restored.users as JsonObject;
    if (listed === undefined) delete restoredUsers[me];
    else restoredUsers[me] = listed;
    drafts.push({ type: 'm.room.power_levels', state_key: '', sender: me, content: restored });
  }
  return { drafts, raised };
}

/** The old room's power levels after the upgrade: events and invites need max(50, users_default + 1) (room_upgrades.md step 6). */
export function restrictedPowerLevels(content: JsonObject): JsonObject {
  const usersDefault = levelOf(content.users_default) ?? 0;
  const level = Math.max(50, usersDefault + 1);
  return { ...content, events_default: level, invite: level };
}

export class RoomUpgradeService {
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly config: Config,
    private readonly store: RoomStore,
    private readonly accounts: AccountStore,
    private readonly writer: EventWriter,
    private readonly roomState: RoomStateService,
  ) {}

  /** POST /rooms/{roomId}/upgrade (matrix-spec: room_upgrades.yaml#upgradeRoom): the replacement room's ID. */
  async upgrade(auth: AuthContext, roomId: string, newVersionId: string, additionalCreators: string[] = []): Promise<string> {
    const newVersion = roomVersion(newVersionId);
    if (!newVersion) throw unsupportedRoomVersion(`Room version ${newVersionId} is not supported`);
    for (const c of additionalCreators) {
      if (!parseUserId(c)) throw badJson(`additional_creators: ${c} is not a user ID`);
    }
    const extra = newVersion.privilegedCreators ? [...new Set(additionalCreators.filter((c) => c !== auth.userId))] : [];
    // One upgrade of a room at a time; the old room's writes wait for it (so the check holds until the tombstone).
    return this.mutex.run(roomId, () => this.writer.withRoomLock(roomId, async () => {
      const room = await this.roomState.get(roomId);
      if (!room) throw notFound('Unknown room');
      const lookup = lookupIn(room.state);
      if (membershipOf(auth.userId, lookup) !== 'join') throw forbidden('You are not in this room');
      if (userPowerLevel(auth.userId, lookup, room.version) < requiredPowerLevel('m.room.tombstone', true, lookup)) {
        throw forbidden('You are not allowed to upgrade this room (m.room.tombstone)');
      }
      const profile = await this.accounts.getProfile(auth.userId);
      const memberContent: JsonObject = { membership: 'join' };
      if (typeof profile.displayname === 'string') memberContent.displayname = profile.displayname;
      if (typeof profile.avatar_url === 'string') memberContent.avatar_url = profile.avatar_url;
      const last = [...room.extremities].sort((a, b) => b.depth - a.depth)[0]?.eventId;
      const plan = upgradeDrafts({
        oldState: room.state, oldVersion: room.version, newVersion, upgrader: auth.userId, oldRoomId: roomId,
        lastEventId: last, additionalCreators: extra, memberContent,
      });
      let newRoomId: string;
      try {
        newRoomId = (await this.writer.createRoom(`!${randomToken(18).replace(/[-_]/g, 'x')}:${this.config.server_name}`, newVersion, plan.drafts, auth.userId)).roomId;
      } catch (e) {
        // The old room's state does not fit the new version's rules: nothing was stored.
        if (e instanceof MatrixError && e.status === 403) throw new MatrixError(400, 'M_INVALID_ROOM_STATE', `The room's state cannot be copied: ${e.message}`, e.extra);
        throw e;
      }
      // Aliases and the directory listing follow the room.
      await this.store.moveAliases(roomId, newRoomId);
      const record = await this.store.getRoom(roomId);
      if (record?.visibility === 'public') {
        await this.store.setRoomVisibility(newRoomId, 'public');
        await this.store.setRoomVisibility(roomId, 'private');
      }
      await this.writer.sendLocked(roomId, {
        type: 'm.room.tombstone', state_key: '', sender: auth.userId,
        content: { body: 'This room has been replaced', replacement_room: newRoomId },
      });
      // Best effort from here: a user who may tombstone but not change the power levels leaves them.
      const after = await this.roomState.get(roomId);
      const afterLookup = after ? lookupIn(after.state) : lookup;
      const pl = afterLookup('m.room.power_levels', '');
      await this.tryLocked(roomId, { type: 'm.room.power_levels', state_key: '', sender: auth.userId, content: restrictedPowerLevels(pl?.content ?? {}) });
      if (afterLookup('m.room.canonical_alias', '')) {
        await this.tryLocked(roomId, { type: 'm.room.canonical_alias', state_key: '', sender: auth.userId, content: {} });
      }
      return newRoomId;
    }));
  }

  private async tryLocked(roomId: string, draft: EventDraft): Promise<void> {
    try {
      await this.writer.sendLocked(roomId, draft);
    } catch (e) {
      if (!(e instanceof MatrixError && e.status === 403)) throw e;
    }
  }
}
