// Builds a whole server's domain services from config, storage and a clock. No singletons: each call
// makes an independent server (tests build one per file).
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { AccountDataService } from './core/account-data.js';
import { AccountService } from './core/accounts/account.js';
import { DeviceService } from './core/accounts/devices.js';
import { AccountEvents } from './core/accounts/events.js';
import { LoginService } from './core/accounts/login.js';
import { OpenIdService } from './core/accounts/openid.js';
import { ProfileService } from './core/accounts/profile.js';
import { RegistrationService } from './core/accounts/registration.js';
import { RegistrationTokenService } from './core/accounts/registration-tokens.js';
import { TokenService } from './core/accounts/tokens.js';
import { InMemoryNotifier, VisibleNotifier, type Notifier } from './core/notifier.js';
import { AdminService } from './core/admin.js';
import { BackgroundTasks } from './core/background.js';
import { DeadlineQueue } from './core/deadlines.js';
import { ServerNoticeService } from './core/notices.js';
import { PresenceService } from './core/presence.js';
import { PushService } from './core/push/service.js';
import { PusherService, type PusherOptions } from './core/push/pushers.js';
import { SessionService } from './core/sessions.js';
import { TypingService } from './core/typing.js';
import { SyncService } from './core/sync.js';
import type { SigningKey } from './core/crypto/signing.js';
import { EventWriter } from './core/events/writer.js';
import { loadOrCreateSigningKey } from './core/keys.js';
import { DirectoryService } from './core/rooms/directory.js';
import { HierarchyService } from './core/rooms/hierarchy.js';
import { Aggregator } from './core/rooms/aggregations.js';
import { RoomReader } from './core/rooms/read.js';
import { RelationsService } from './core/rooms/relations.js';
import { SearchService } from './core/search/service.js';
import { RoomUpgradeService } from './core/rooms/upgrade.js';
import { ReportService } from './core/reports.js';
import { RoomService } from './core/rooms/service.js';
import { RoomStateService } from './core/rooms/room-state.js';
import type { RoomVersion } from './core/room-versions.js';
import type { StoredEvent } from './wire.js';
import { StateGroupService, type StateMap } from './core/state/groups.js';
import { resolutionSource, resolveState } from './core/state/resolve.js';
import { StreamPositions } from './core/stream.js';
import type { ScryptParams } from './core/passwords.js';
import { RateLimiter } from './core/ratelimit.js';
import { UiaService } from './core/uia.js';
import { HttpFederationClient } from './core/federation/client.js';
import { HttpsWellKnownFetcher, ServerResolver } from './core/federation/discovery.js';
import { KeyRingEventVerifier } from './core/federation/event-signatures.js';
import type { FederationEventHandler } from './core/federation/handler.js';
import { Backfiller } from './core/federation/backfill.js';
import { FederationEdus } from './core/federation/edus.js';
import { PduFanout } from './core/federation/fanout.js';
import { FederationHistory } from './core/federation/history.js';
import { RemoteMembership } from './core/federation/membership.js';
import { OutOfBandMemberships } from './core/federation/out-of-band.js';
import { RemoteEvents } from './core/federation/remote-events.js';
import { ResidentRooms } from './core/federation/resident.js';
import { RoomFederationHandler } from './core/federation/room-handler.js';
import { EventReceiver } from './core/events/receive.js';
import { redactEvent } from './core/crypto/event-hashing.js';
import { pduOf } from './wire.js';
import { FederationRemoteQueries } from './core/federation/queries.js';
import { TransactionReceiver } from './core/federation/inbound.js';
import { KeyRing } from './core/federation/keyring.js';
import { clientTransport, QueueingFederationSender } from './core/federation/sender.js';
import type { FederationRooms, FederationServiceOptions, FederationServices } from './core/federation/types.js';
import { uuidV7Generator } from './core/ids.js';
import { AddressPolicy, OutboundGuard } from './core/net/address-policy.js';
import { systemDnsResolver } from './core/net/dns.js';
import { OutboundHttp } from './core/net/http.js';
import { KeyBackupService } from './core/e2ee/backup.js';
import { DeviceListService } from './core/e2ee/device-lists.js';
import { E2eeFederation } from './core/e2ee/federation.js';
import { E2eeKeyService, type RemoteKeyClient } from './core/e2ee/keys.js';
import { RemoteDeviceLists } from './core/e2ee/remote-device-lists.js';
import { FederationMediaFetcher } from './core/media/federation.js';
import { MediaService, type RemoteMediaFetcher } from './core/media/service.js';
import { mediaStoreFor, type MediaStore } from './core/media/store.js';
import { createLogger, type Logger } from './logger.js';
import { withCaches, type CacheChange } from './storage/cache.js';
import type { Cluster } from './cluster/bus.js';
import { ClusterNotifier } from './cluster/notifier.js';
import { SharedStreamPositions } from './cluster/positions.js';
import { RedisBuckets } from './cluster/ratelimit.js';
import type { RedisSessionStore } from './cluster/sessions.js';
import type { ReplicaLink } from './core/replica.js';
import type { PushActionRecord, Storage } from './storage/types.js';

export interface Services {
  /** Several processes (spec/scaling.md): the Redis connection; undefined for one process. */
  cluster?: Cluster;
  config: Config;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  rateLimiter: RateLimiter;
  uia: UiaService;
  /** What account changes other services react to (token revocation, logins, password changes). */
  accountEvents: AccountEvents;
  tokens: TokenService;
  registration: RegistrationService;
  /** Registration tokens: the m.login.registration_token stage and the admin API's tokens. */
  registrationTokens: RegistrationTokenService;
  login: LoginService;
  /** Logout, password change, deactivation, admin flags. */
  accounts: AccountService;
  devices: DeviceService;
  profiles: ProfileService;
  /** OpenID tokens for widgets and integrations. */
  openId: OpenIdService;
  /** The server's signing key (generated and stored on first use). */
  signingKey(): Promise<SigningKey>;
  /** The global stream position counter (resumes after the highest stored position). */
  positions(): Promise<StreamPositions>;
  events: EventWriter;
  /** Rooms' current state (the resolved state of their forward extremities) for the hot paths. */
  roomState: RoomStateService;
  stateGroups: StateGroupService;
  rooms: RoomService;
  directory: DirectoryService;
  /** The space hierarchy (m.space.child). */
  hierarchy: HierarchyService;
  reader: RoomReader;
  /** Bundled aggregations of served events (unsigned["m.relations"]). */
  aggregator: Aggregator;
  /** /relations, /threads and the checks on related events. */
  relations: RelationsService;
  /** POST /search over the full-text index. */
  search: SearchService;
  /** POST /rooms/{roomId}/upgrade. */
  upgrades: RoomUpgradeService;
  /** Reports of events, rooms and users, and their admin listing. */
  reports: ReportService;
  notifier: Notifier;
  sync: SyncService;
  accountData: AccountDataService;
  push: PushService;
  /** Pushers and the notifications they send to push gateways (through `outbound`). */
  pushers: PusherService;
  deadlines: DeadlineQueue;
  sessions: SessionService;
  presence: PresenceService;
  typing: TypingService;
  notices: ServerNoticeService;
  admin: AdminService;
  /**
   * Every outbound HTTP(S) request to an address this server did not choose itself (federation, push
   * gateways; URL previews later) goes through this: ip_range_blacklist / ip_range_whitelist.
   */
  outbound: OutboundHttp;
  /** The federation transport (spec/federation.md). */
  federation: FederationServices;
  /** Rooms across servers: received events, membership through other servers, answers to them (spec/federation.md). */
  federationRooms: FederationRooms;
  /** Typing, presence, receipts, to-device messages and server events across servers, both ways (spec/federation.md "EDUs"). */
  federationEdus: FederationEdus;
  /** Device-list changes (positions, wake-ups, the federation hook). */
  deviceLists: DeviceListService;
  /** End-to-end encryption keys: upload, query, claim, cross-signing. */
  keys: E2eeKeyService;
  /** Keys over federation: answers to other servers, device-list EDUs out (spec/e2ee.md "Over federation"). */
  e2eeFederation: E2eeFederation;
  /** Remote users' device lists (cache, received EDUs, the RemoteKeyClient); undefined without federation. */
  remoteDeviceLists: RemoteDeviceLists | undefined;
  /** Server-side key backups. */
  keyBackup: KeyBackupService;
  /** The media repository. */
  media: MediaService;
  /** Work started without waiting for it (presence recomputes, typing ended by sends). */
  background: BackgroundTasks;
  /** Resolves once background work and automatic notices under way have finished. */
  settled(): Promise<void>;
  /** Stops timers and background work (not the storage). */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  /** Cheaper password hashing for tests; production uses the default. */
  scrypt?: ScryptParams;
  /** Push gateway timings (tests). */
  pushers?: PusherOptions;
  /** Federation transport parts to replace (tests: DNS, well-known, timings, the event handler). */
  federation?: FederationServiceOptions;
  /** Other servers' key APIs (federation); without it their users' keys are reported as failures. */
  remoteKeys?: RemoteKeyClient;
  /** Where media bytes live; by default the directory of media.store_path (mediaStoreFor). */
  mediaStore?: MediaStore;
  /** Other servers' media (federation); without it remote media answers 404. */
  remoteMedia?: RemoteMediaFetcher;
  /**
   * Several processes serving one server (spec/scaling.md): the Redis connection and the shared
   * sessions (opened first: they are loaded from Redis). Without it all live state is in this process.
   */
  cluster?: { cluster: Cluster; sessions: RedisSessionStore };
}

/** The cluster's messages of one type as a replica link. */
function linkOf<T>(cluster: Cluster, type: string): ReplicaLink<T> {
  return {
    send: (change) => cluster.publish({ t: type, c: change }),
    onReceive: (fn) => cluster.on(type, (m) => fn(m.c as T)),
  };
}

export function createServices(config: Config, rawStorage: Storage, clock: Clock, opts: ServiceOptions = {}): Services {
  const cluster = opts.cluster?.cluster;
  // Work that must run in one process (expiries, the federation sender, dropping dead processes'
  // positions): with several processes, the holder of a lease in Redis.
  const timersLease = cluster?.lease('timers');
  const cacheLink = cluster ? linkOf<CacheChange>(cluster, 'cache') : undefined;
  // Every service reads and writes through the caches (src/storage/cache.ts), so they stay right.
  const storage = withCaches(rawStorage, undefined, cacheLink);
  const logger = opts.logger ?? createLogger(config.logging.level);
  const uia = new UiaService(clock);
  const rateLimiter = new RateLimiter(config.rate_limits, clock, cluster ? new RedisBuckets(cluster) : undefined);
  const accountEvents = new AccountEvents();
  const tokens = new TokenService(config, storage.accounts, clock, accountEvents);
  const registrationTokens = new RegistrationTokenService(config, storage.admin, clock, uia);
  const registration = new RegistrationService(config, storage.accounts, clock, uia, tokens, accountEvents, registrationTokens, opts.scrypt);
  const login = new LoginService(config, storage.accounts, clock, rateLimiter, tokens, registration, opts.scrypt);
  const accounts = new AccountService(config, storage.accounts, uia, tokens, accountEvents, opts.scrypt);
  const devices = new DeviceService(config, storage.accounts, uia, tokens, accountEvents);
  // Profiles, aliases and room lists of other servers, asked through the federation client (built below).
  const remote = new FederationRemoteQueries(config, { request: (r) => transport.services.client.request(r) }, clock);
  // A new display name or avatar reaches the user's rooms (RoomService, built below); a room that
  // refuses is logged and skipped.
  const profiles = new ProfileService(config, storage.accounts, async (userId) => {
    const { failed } = await rooms.propagateProfile(userId);
    for (const f of failed) logger.warn({ err: f.error, userId, roomId: f.roomId }, 'could not update the member event after a profile change');
  }, remote);
  const openId = new OpenIdService(config, storage.accounts, clock);
  let key: Promise<SigningKey> | undefined;
  const signingKey = () => (key ??= loadOrCreateSigningKey(storage.rooms, clock.now()));
  // Positions and state group IDs come in blocks reserved in the store (core/stream.ts): a block's
  // ceiling is stored before any number in it is used, and writers sharing the database get disjoint
  // blocks. Readers see positions up to the last one below every write still in flight.
  let positionsP: Promise<StreamPositions> | undefined;
  let positionsNow: StreamPositions | undefined;
  const positions = () => (positionsP ??= (async () => {
    const max = await storage.rooms.maxStreamOrdering();
    const reserve = (floor: number, size: number) => storage.meta.reserveBlock('stream_position_ceiling', floor, size);
    // Several processes: one counter and the persisted-up-to position in Redis (src/cluster/positions.ts).
    const p = cluster ? await SharedStreamPositions.open(cluster, reserve, max, timersLease) : await StreamPositions.open(reserve, max);
    positionsNow = p;
    return p;
  })());
  let groupIdsP: Promise<StreamPositions> | undefined;
  const groupIds = () => (groupIdsP ??= (async () => {
    const max = await storage.rooms.maxStateGroupId();
    return StreamPositions.open((floor, size) => storage.meta.reserveBlock('state_group_ceiling', floor, size), max);
  })());
  const stateGroups = new StateGroupService(storage.rooms, groupIds);
  const roomState = new RoomStateService(storage.rooms, stateGroups);
  const resolver = (version: RoomVersion, states: StateMap[], pending?: StoredEvent[]) => resolveState(version, states, resolutionSource(storage.rooms, pending));
  // The writer evaluates push rules (PushService, built below from account data, which itself reads
  // rooms through the writer): the closure reaches it once both exist, before any event is sent.
  const events: EventWriter = new EventWriter(config.server_name, storage.rooms, clock, signingKey, positions, roomState, stateGroups, resolver,
    (event, room): Promise<PushActionRecord[]> => push.actionsFor(event, room));
  // Waiting /syncs are woken for a position once every position below it has settled.
  // Several processes: wake-ups go through Redis to every process's waiters (src/cluster/notifier.ts).
  const notifier: Notifier = cluster
    ? new ClusterNotifier(cluster, new InMemoryNotifier(clock), () => positionsNow)
    : new VisibleNotifier(new InMemoryNotifier(clock), () => positionsNow);
  const transport = createFederationTransport(config, storage, clock, logger, signingKey, opts.federation ?? {});
  const federationRooms = createFederationRooms(config, storage, clock, logger, signingKey, positions, events, roomState, stateGroups, resolver, notifier, rateLimiter, transport);
  const rooms = new RoomService(config, storage.rooms, storage.accounts, events, roomState, clock, rateLimiter, (roomId) => storage.admin.isRoomBlocked(roomId),
    (roomId, sender, type, content) => relations.checkOutgoing(roomId, sender, type, content),
    config.federation.enabled ? federationRooms.membership : undefined,
    (roomId, userId, err) => logger.warn({ err, roomId, userId }, 'federation: an invite made with a new room failed'));
  const directory = new DirectoryService(config, storage.rooms, roomState, remote);
  // Aggregations read history visibility through the reader and ignored users through account data (built below).
  const aggregator: Aggregator = new Aggregator(storage.rooms, () => clock.now(), (userId, roomId) => reader.visibility(userId, roomId), (userId) => accountData.ignoredBy(userId));
  const reader = new RoomReader(config, storage.rooms, roomState, clock, aggregator,
    config.federation.enabled ? (roomId, limit, gaps) => federationRooms.backfiller.backfill(roomId, limit, gaps) : undefined);
  const relations: RelationsService = new RelationsService(storage.rooms, reader, roomState, (userId) => accountData.ignoredBy(userId));
  const search = new SearchService(storage.rooms, reader);
  const upgrades = new RoomUpgradeService(config, storage.rooms, storage.accounts, events, roomState);
  const reports = new ReportService(config, storage.admin, storage.rooms, storage.accounts, roomState, reader, rateLimiter, clock);
  const hierarchy = new HierarchyService(storage.rooms, roomState, clock);
  const accountData: AccountDataService = new AccountDataService(config, storage.sync, storage.rooms, storage.accounts, roomState, notifier, positions, clock,
    (eventId, threadId) => relations.checkReceiptThread(eventId, threadId));
  const push: PushService = new PushService(storage.sync, accountData);
  const deadlines = new DeadlineQueue(clock);
  const background = new BackgroundTasks((err) => logger.warn({ err }, 'background work failed'));
  const sessions = new SessionService(config, clock, deadlines, opts.cluster?.sessions, timersLease ? () => timersLease.held : undefined);
  const presence = new PresenceService(config, sessions, storage.rooms, storage.accounts, storage.meta, events, roomState, notifier, positions, deadlines, clock, background);
  const typing = new TypingService(config, events, roomState, sessions, notifier, positions, deadlines, clock, background);
  const deviceLists = new DeviceListService(config.server_name, storage.e2ee, storage.rooms, roomState, events, notifier, positions, logger);
  // Remote users' keys and device lists over federation (spec/e2ee.md "Over federation").
  const remoteDeviceLists = config.federation.enabled ? new RemoteDeviceLists(config.server_name, transport.services.client, storage.rooms, roomState, events, deviceLists, logger) : undefined;
  const keys = new E2eeKeyService(config, storage.e2ee, storage.accounts, deviceLists, uia, clock, logger, opts.remoteKeys ?? remoteDeviceLists);
  const e2eeFederation = new E2eeFederation(config.server_name, keys, storage.rooms, roomState, transport.services.sender, logger);
  if (remoteDeviceLists) e2eeFederation.connect(deviceLists, federationRooms.handler, remoteDeviceLists);
  const keyBackup = new KeyBackupService(storage.e2ee);
  // Other servers' media over federation (spec/federation.md "Media").
  const remoteMedia = opts.remoteMedia ?? (config.federation.enabled ? new FederationMediaFetcher(transport.services.client, transport.outbound, config.federation.verify_certificates, logger) : undefined);
  const media = new MediaService(config, storage.media, opts.mediaStore ?? mediaStoreFor(config), storage.accounts, clock, logger, remoteMedia);
  const sync = new SyncService({
    config, rooms: storage.rooms, store: storage.sync, writer: events, roomState, reader, notifier, positions, clock,
    ignoredUsers: (userId) => accountData.ignoredBy(userId),
    pushRules: push,
    aggregator,
    sources: [{
      roomEphemeral: (roomId, _userId, since, upTo) => typing.syncEvents(roomId, since, upTo),
      presence: (userId, since, upTo) => presence.syncEvents(userId, since, upTo),
      e2ee: (auth, since, upTo) => keys.syncSection(auth, since, upTo),
    }],
  });
  // Deleted devices take their end-to-end keys with them, and so does a deactivated account; the
  // users who share a room with them see the change in device_lists.
  const logFailure = (what: string, userId: string) => (err: unknown) => logger.error({ err, userId }, what);
  accountEvents.addListener({
    // Tracked as background work: settled() (tests, shutdown) waits until the keys are gone.
    tokensRevoked: (userId) => background.run(keys.devicesRemoved(userId).catch(logFailure('could not remove the keys of deleted devices', userId))),
    userDeactivated: (userId) => background.run(keys.userDeactivated(userId).catch(logFailure('could not remove the keys of a deactivated account', userId))),
  });
  // Logout, password change with logout_devices and deactivation end the sessions they revoke.
  accountEvents.addListener({ tokensRevoked: (userId, devices, keep) => sessions.endDevices(userId, devices, keep) });
  if (cluster) {
    // Live state and caches shared with the other processes (spec/scaling.md).
    typing.share(linkOf(cluster, 'typing'));
    presence.share(linkOf(cluster, 'presence'));
    tokens.share(linkOf(cluster, 'tokens'));
    uia.share(linkOf(cluster, 'uia'));
    registration.share(linkOf(cluster, 'nonces'));
    cacheLink!.onReceive((c) => {
      if ('rooms' in c) {
        for (const roomId of c.rooms) {
          roomState.forget(roomId);
          sync.roomAdvanced(roomId, c.pos);
        }
      } else if (c.cache === 'accountDataNoneAfter') {
        for (const userId of c.keys) {
          accountData.forgetCached(userId);
          push.forgetCached(userId);
        }
      }
    });
  }
  const notices = new ServerNoticeService(config, storage.admin, storage.accounts, events, roomState, accountData, clock, logger);
  const admin = new AdminService(config, storage.admin, storage.accounts, accounts, registration, storage.rooms, events, roomState, sessions, notices, profiles, devices, tokens, clock);
  // The server tells users about changes to their account (sender = server name).
  accountEvents.addListener({
    passwordChanged: (userId) => {
      if (config.server_notices.on_password_change) notices.notifyQuietly(userId, 'Your password was changed. If this was not you, contact the server administrator.');
    },
    deviceLoggedIn: (userId, deviceId, isNew, via) => {
      if (via === 'login' && isNew && config.server_notices.on_new_login) notices.notifyQuietly(userId, `A new device (${deviceId}) logged in to your account.`);
    },
  });
  const settled = async () => {
    while (background.size > 0 || notices.pending > 0) {
      await notices.settled();
      await background.settled();
    }
  };
  const federationEdus = new FederationEdus(config.server_name, config.federation.enabled, transport.services.sender, storage.rooms, roomState,
    typing, presence, accountData, notices, events, deadlines, clock, logger, federationRooms.handler);
  // Received transactions go to the room protocol (tests may put their own handler in its place).
  const handler: FederationEventHandler = opts.federation?.eventHandler ?? federationRooms.handler;
  const federation: FederationServices = { ...transport.services, handler, receiver: new TransactionReceiver(storage.federation, handler, clock, logger) };
  const outbound = transport.outbound;
  // Notifying events reach push gateways through the outbound address policy.
  if (cluster && timersLease) {
    // One process sends to other servers; the others forward what they queued (spec/scaling.md "Leases").
    const sender = transport.services.sender;
    sender.sendOnlyWith(timersLease, (destination) => cluster.publish({ t: 'federation-kick', d: destination }));
    cluster.on('federation-kick', (m) => sender.kickFromPeer(String(m.d)));
    // A process that takes the lease over resumes everything queued (the previous holder died).
    if (config.federation.enabled) timersLease.onAcquired(() => void sender.start().catch((err: unknown) => logger.error({ err }, 'federation: could not resume the queue')));
  }
  const pushers = new PusherService(storage.accounts, storage.rooms, storage.sync, outbound, rateLimiter, clock, logger, opts.pushers);
  events.addListener(pushers);
  return {
    ...(cluster ? { cluster } : {}),
    config,
    storage,
    clock,
    logger,
    rateLimiter,
    uia,
    accountEvents,
    tokens,
    registration,
    registrationTokens,
    login,
    accounts,
    devices,
    profiles,
    openId,
    signingKey,
    positions,
    events,
    roomState,
    stateGroups,
    rooms,
    directory,
    hierarchy,
    reader,
    aggregator,
    relations,
    search,
    upgrades,
    reports,
    notifier,
    sync,
    accountData,
    push,
    pushers,
    deadlines,
    sessions,
    presence,
    typing,
    notices,
    admin,
    outbound,
    federation,
    federationRooms,
    federationEdus,
    deviceLists,
    keys,
    e2eeFederation,
    remoteDeviceLists,
    keyBackup,
    media,
    background,
    settled,
    async stop() {
      deadlines.stop();
      if (positionsNow instanceof SharedStreamPositions) positionsNow.stop();
      opts.cluster?.sessions.stop();
      await settled();
      await federationRooms.fanout.settled();
      await e2eeFederation.settled();
      await federationEdus.settled();
      pushers.stop();
      await federation.sender.stop();
      outbound.close();
      await notices.settled();
      await media.close();
    },
  };
}

/**
 * The federation transport (spec/federation.md), each part given what it depends on: the address
 * policy and DNS under the outbound HTTP client; discovery; the signed federation client; the key
 * ring (keys fetched through the client); the event signature check; the outbound queue, which
 * resumes what a previous run left queued. Inbound transactions are wired in createServices, once the
 * room protocol that handles them exists.
 */
function createFederationTransport(
  config: Config, storage: Storage, clock: Clock, logger: Logger, signingKey: () => Promise<SigningKey>, opts: FederationServiceOptions,
): { outbound: OutboundHttp; services: Omit<FederationServices, 'handler' | 'receiver'> } {
  const policy = AddressPolicy.fromConfig(config);
  const dns = opts.dns ?? systemDnsResolver();
  const outbound = new OutboundHttp(new OutboundGuard(policy, dns));
  const wellKnown = opts.wellKnownFetcher ?? new HttpsWellKnownFetcher(outbound, {
    verifyCertificates: config.federation.verify_certificates, ...(opts.wellKnownPort !== undefined ? { port: opts.wellKnownPort } : {}),
  });
  const resolver = new ServerResolver(dns, wellKnown, clock, opts.discovery);
  const client = new HttpFederationClient(config, signingKey, resolver, outbound, logger, opts.client);
  const keyRing = new KeyRing(config, storage.federation, clock, signingKey,
    (serverName) => client.request({ destination: serverName, method: 'GET', path: '/_matrix/key/v2/server', signed: false, timeoutMs: 30_000, maxResponseBytes: 1024 * 1024 }),
    logger, opts.keyRing);
  const eventVerifier = new KeyRingEventVerifier(keyRing);
  const senderOpts = opts.sender ?? {};
  const sender = new QueueingFederationSender(config, storage.federation, opts.transactionTransport ?? clientTransport(client, senderOpts.requestTimeoutMs ?? 60_000), clock,
    uuidV7Generator(() => clock.now()), logger, senderOpts);
  return { outbound, services: { policy, resolver, client, keyRing, eventVerifier, sender } };
}

/**
 * The room protocol over the transport (spec/federation.md "Rooms"): the event receiver (checks on
 * receipt, with the key ring's signature check), fetching events from other servers, the handler of
 * received PDUs, the fan-out of local events, answers to other servers, and our users' membership
 * through other servers.
 */
function createFederationRooms(
  config: Config, storage: Storage, clock: Clock, logger: Logger, signingKey: () => Promise<SigningKey>, positions: () => Promise<StreamPositions>,
  events: EventWriter, roomState: RoomStateService, stateGroups: StateGroupService,
  resolver: (version: RoomVersion, states: StateMap[], pending?: StoredEvent[]) => Promise<StateMap>,
  notifier: Notifier, rateLimiter: RateLimiter, transport: { services: Omit<FederationServices, 'handler' | 'receiver'> },
): FederationRooms {
  const { client, keyRing, eventVerifier, sender } = transport.services;
  const receiver = new EventReceiver(storage.rooms, events, roomState, stateGroups, resolver, eventVerifier);
  const remote = new RemoteEvents(client, storage.rooms, receiver, logger);
  const handler = new RoomFederationHandler(config.server_name, storage.rooms, roomState, remote, logger);
  const fanout = new PduFanout(config.server_name, sender, logger, config.federation.enabled);
  events.addListener(fanout);
  const history = new FederationHistory(config.server_name, storage.rooms, roomState, stateGroups, clock);
  const outOfBand = new OutOfBandMemberships(storage.rooms, positions, notifier);
  const resident = new ResidentRooms(config, storage.rooms, storage.accounts, roomState, receiver, eventVerifier, history, fanout, outOfBand, signingKey, rateLimiter, clock, logger);
  const signedBy = async (event: StoredEvent, version: RoomVersion, server: string) => {
    await keyRing.verifyJsonSignedBy(redactEvent(pduOf(event), version), server, event.origin_server_ts);
  };
  const membership = new RemoteMembership(config, client, storage.rooms, remote, outOfBand, signingKey, signedBy, clock, logger);
  const backfiller = new Backfiller(config.server_name, storage.rooms, roomState, remote, clock, logger);
  return { receiver, remote, handler, fanout, history, resident, membership, backfiller };
}
