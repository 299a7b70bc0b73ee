import type { DescService } from '@bufbuild/protobuf';
import { MediaService, MeetingService, ParticipantService, rpcQueue, rpcSubject, streams, TurnService } from '@lessoncall/proto';
import { createUser, fromSeed } from '@nats-io/nkeys';

/**
 * Who may publish and subscribe to what on the bus: the one source of truth that the test
 * harness, the local stack and the Helm chart render into nats-server's `authorization`
 * block. Anything not listed is refused by the server with a permissions violation.
 *
 * Credentials are nkeys, not user+password: the server config carries only public keys (so
 * the rendered config is not a secret and can live in a ConfigMap), the seed stays in the
 * service's Secret and never crosses the wire (challenge/response), and nats.js ships the
 * nkeys implementation (@nats-io/nkeys; no bcrypt tool needed to produce the config).
 */
export const natsRoles = ['gateway', 'meeting', 'participant', 'signaling', 'turn', 'media', 'booking', 'operator'] as const;
export type NatsRole = (typeof natsRoles)[number];

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
  /** Lets a responder answer the requests it received (and only those) without publishing to `_INBOX.>`. */
  allowResponses: boolean;
}

/**
 * Each role's private reply prefix. nats.js puts request replies, JetStream acks and pull
 * batches under `inboxPrefix`; a role may subscribe only below its own, so it cannot read
 * another service's replies (resume tokens, TURN credentials).
 */
export function inboxPrefix(role: NatsRole): string {
  return `_INBOX.${role}`;
}

type StreamName = (typeof streams)[keyof typeof streams]['name'];

/**
 * Every method of a service that the role serves: each is `svc.<queue>.<method>` (proto/lib/rpc.test.ts
 * holds every service to that), so one wildcard covers a method added later.
 */
function serviceSubjects(service: DescService): string {
  return `svc.${rpcQueue(service)}.*`;
}

/**
 * The role's service as `@nats-io/services` serves it: its endpoints, and the `$SRV` discovery
 * subjects it answers (PING, INFO, STATS for all services, by its name, and by its instance id).
 * Answers go through allow_responses; only the operator may ask.
 */
function servesService(service: DescService): string[] {
  const name = rpcQueue(service);
  return [serviceSubjects(service), '$SRV.PING', '$SRV.INFO', '$SRV.STATS', `$SRV.*.${name}`, `$SRV.*.${name}.*`];
}

/** `jetstreamManager()` asks for the account info first; every JetStream user needs it. */
const jsAccountInfo = '$JS.API.INFO';

/** ensureStream: look up, create or update one stream (never delete or purge it). */
function manageStream(stream: string): string[] {
  return [`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`];
}

/** ensureConsumer + pull consumption + acks on one stream's durables. */
function consumeStream(stream: StreamName): string[] {
  return [
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    // 2.9 servers take DURABLE.CREATE, 2.10+ CREATE.<stream>.<name>[.<filter>].
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.*`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.ACK.${stream}.>`,
  ];
}

/** The gateway's rate-limit KV bucket (services/gateway/src/rest/index.ts). */
const gatewayKv = 'gateway_ratelimit';
/** Sign-outs (services/gateway/src/auth/revocations.ts): every gateway writes and watches it. */
const revocationKv = 'gateway_revocations';

/** A KV bucket watched from its start: an ordered push consumer, delivered to the watcher's inbox, with flow control. */
function watchBucket(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ];
}

const matrix: Record<NatsRole, NatsPermissions> = {
  gateway: {
    publish: [
      rpcSubject(MeetingService.method.createMeeting),
      rpcSubject(MeetingService.method.getMeeting),
      rpcSubject(MeetingService.method.verifyJoin),
      rpcSubject(MeetingService.method.endMeeting),
      rpcSubject(MeetingService.method.findMeetingByBooking),
      rpcSubject(ParticipantService.method.join),
      rpcSubject(ParticipantService.method.leave),
      rpcSubject(ParticipantService.method.listParticipants),
      rpcSubject(ParticipantService.method.mute),
      rpcSubject(ParticipantService.method.presence),
      rpcSubject(ParticipantService.method.attendance),
      // The roster view re-reads a meeting's live sessions after a miss.
      rpcSubject(ParticipantService.method.liveSessions),
      rpcSubject(ParticipantService.method.chatSend),
      rpcSubject(ParticipantService.method.chatHistory),
      rpcSubject(ParticipantService.method.record),
      // Tutor controls.
      rpcSubject(ParticipantService.method.remove),
      rpcSubject(ParticipantService.method.allowRejoin),
      rpcSubject(ParticipantService.method.askUnmute),
      // The lobby's connection check, before Join.
      rpcSubject(TurnService.method.precallCredentials),
      rpcSubject(ParticipantService.method.boardAppend),
      rpcSubject(ParticipantService.method.boardState),
      rpcSubject(ParticipantService.method.boardControl),
      rpcSubject(ParticipantService.method.qualityReport),
      rpcSubject(ParticipantService.method.removals),
      // An sfu meeting's room access, after welcome and when the room moves.
      rpcSubject(MediaService.method.mediaJoin),
      rpcSubject(MediaService.method.recordingLink),
      'signal.route.*',
      // Straight to the gateway holding the target when the roster view has both ends live.
      'signal.deliver.*',
      jsAccountInfo,
      ...manageStream(`KV_${gatewayKv}`),
      `$JS.API.DIRECT.GET.KV_${gatewayKv}.>`,
      `$JS.API.STREAM.MSG.GET.KV_${gatewayKv}`,
      `$KV.${gatewayKv}.>`,
      ...manageStream(`KV_${revocationKv}`),
      `$KV.${revocationKv}.>`,
      ...watchBucket(revocationKv),
    ],
    subscribe: [
      'signal.deliver.*',
      'participant.joined.*',
      'participant.left.*',
      'mute.changed.*',
      'meeting.ended.*',
      'meeting.cancelled.*',
      'chat.posted.*',
      'tutor.unmute_asked.*',
      'board.*.*',
      // A room re-created on another node: the meeting's sockets are told where.
      'media.room_created.*',
    ],
    allowResponses: false,
  },
  meeting: {
    publish: [
      rpcSubject(ParticipantService.method.attendance),
      // Who is still in a meeting after its end: the participant service says.
      rpcSubject(ParticipantService.method.liveSessions),
      'meeting.>',
      // A new meeting's passcode and link, for the booking system alone (not in MEETINGS).
      'meeting_link.>',
      'deadletter.>',
      jsAccountInfo,
      ...manageStream(streams.bookings.name),
      ...manageStream(streams.meetings.name),
      ...manageStream(streams.meetingLinks.name),
      ...manageStream(streams.participants.name),
      // Consumers park what they can never process there (kit consumeEvents).
      ...manageStream(streams.deadLetters.name),
      ...consumeStream(streams.bookings.name),
      ...consumeStream(streams.participants.name),
      // recording.ready sets the meeting's recording_url (the meeting service owns the column).
      ...manageStream(streams.media.name),
      ...consumeStream(streams.media.name),
    ],
    subscribe: servesService(MeetingService),
    allowResponses: true,
  },
  participant: {
    publish: [
      rpcSubject(MeetingService.method.verifyJoin),
      // A request that beat meeting.created asks the owner for the meeting.
      rpcSubject(MeetingService.method.describeMeeting),
      rpcSubject(TurnService.method.turnCredentials),
      'participant.>',
      'mute.changed.>',
      // Core NATS fan-out of stored chat messages to the gateways.
      'chat.posted.*',
      // Core NATS: the tutor's ask to unmute, for the gateway holding the target's socket.
      'tutor.unmute_asked.*',
      // ...and of whiteboard updates and the tutor's lock/clear.
      'board.updated.*',
      'board.controlled.*',
      'meeting.no_show.*',
      // The lesson record, once the meeting has ended (the booking role subscribes to meeting.>).
      'meeting.record_ready.*',
      'deadletter.>',
      jsAccountInfo,
      ...manageStream(streams.meetings.name),
      ...manageStream(streams.participants.name),
      ...manageStream(streams.deadLetters.name),
      ...consumeStream(streams.meetings.name),
    ],
    subscribe: servesService(ParticipantService),
    allowResponses: true,
  },
  signaling: {
    publish: [rpcSubject(ParticipantService.method.liveSessions), 'signal.deliver.*', jsAccountInfo],
    subscribe: ['signal.route.*', 'participant.*.*'],
    allowResponses: false,
  },
  // The SFU side: Janus rooms and tokens, recordings.
  media: {
    publish: [
      // Who is live in a meeting, and the meeting itself, from their owners.
      rpcSubject(ParticipantService.method.liveSessions),
      rpcSubject(MeetingService.method.describeMeeting),
      // Whether a user may have a recording's link: the meeting as that user may read it (RLS).
      rpcSubject(MeetingService.method.getMeeting),
      'media.>',
      'recording.>',
      'deadletter.>',
      jsAccountInfo,
      ...manageStream(streams.media.name),
      ...manageStream(streams.meetings.name),
      ...manageStream(streams.participants.name),
      ...manageStream(streams.deadLetters.name),
      // meeting.ended / cancelled close the room; participant.left revokes a session's token.
      ...consumeStream(streams.meetings.name),
      ...consumeStream(streams.participants.name),
    ],
    subscribe: servesService(MediaService),
    allowResponses: true,
  },
  turn: {
    publish: [jsAccountInfo],
    subscribe: servesService(TurnService),
    allowResponses: true,
  },
  // The booking system (and `npm run booking`): announces bookings, watches what became of them,
  // and is the only one who reads passcodes (meeting_link.>), live or from a durable consumer.
  booking: {
    publish: ['booking.>', jsAccountInfo, ...consumeStream(streams.meetingLinks.name)],
    subscribe: ['meeting.>', 'participant.>', 'meeting_link.>', 'recording.>'],
    allowResponses: false,
  },
  // A person with `npm run deadletter`: reads DEADLETTER, republishes a letter to the stream it
  // came from and removes it. No service holds this seed; it can forge events, so it stays with ops.
  operator: {
    publish: [
      ...streams.bookings.subjects,
      ...streams.meetings.subjects,
      ...streams.participants.subjects,
      ...streams.media.subjects,
      jsAccountInfo,
      ...manageStream(streams.deadLetters.name),
      `$JS.API.STREAM.MSG.GET.${streams.deadLetters.name}`,
      `$JS.API.STREAM.MSG.DELETE.${streams.deadLetters.name}`,
      // `nats micro ls` / `info` / `stats`: which services run, their endpoints and counts.
      '$SRV.>',
    ],
    subscribe: [],
    allowResponses: false,
  },
};

/** A role's allow lists, its own reply inbox included. */
export function natsPermissions(role: NatsRole): NatsPermissions {
  const p = matrix[role];
  return { publish: [...p.publish], subscribe: [...p.subscribe, `${inboxPrefix(role)}.>`], allowResponses: p.allowResponses };
}

export interface NatsUser {
  role: NatsRole;
  /** The role's public nkey (`U…`). */
  nkey: string;
}

/**
 * The `authorization` block of nats-server.conf for these users. JSON strings are valid
 * nats-server config and keep `$JS…` from being read as a variable reference.
 * `extra` carries entries that are not services (the harness's test driver).
 */
export function renderNatsAuthorization(users: readonly NatsUser[], extra: readonly string[] = []): string {
  return authorizationBlock(
    users.map(({ role, nkey }) => userEntry(role, JSON.stringify(nkey))),
    extra,
  );
}

/** The environment variable that carries a role's public key where the config only references it (the chart). */
export function natsKeyVariable(role: NatsRole): string {
  return `NATS_NKEY_${role.toUpperCase()}`;
}

/**
 * The same block with every role's key a reference to `$NATS_NKEY_<ROLE>`, which nats-server
 * resolves from its environment: the Helm chart ships this text (files/nats-authorization.conf,
 * regenerated by `pnpm exec tsx scripts/nats-chart.ts`) and fills the variables from the
 * ConfigMap of public keys, so the chart renders this very matrix without knowing any key.
 */
export function renderNatsAuthorizationFromEnv(): string {
  return authorizationBlock(natsRoles.map((role) => userEntry(role, `$${natsKeyVariable(role)}`)));
}

function userEntry(role: NatsRole, nkey: string): string {
  const p = natsPermissions(role);
  const permissions = {
    publish: { allow: p.publish },
    subscribe: { allow: p.subscribe },
    ...(p.allowResponses ? { allow_responses: true } : {}),
  };
  return `    # ${role}\n    { nkey: ${nkey}, permissions: ${JSON.stringify(permissions)} }`;
}

function authorizationBlock(entries: readonly string[], extra: readonly string[] = []): string {
  return `authorization {\n  users: [\n${[...entries, ...extra.map((e) => `    ${e}`)].join(',\n')}\n  ]\n}\n`;
}

/** A fresh user nkey seed (`SU…`): what goes into a role's Secret. */
export function newNatsSeed(): string {
  return new TextDecoder().decode(createUser().getSeed());
}

/** The public key (`U…`) of a user seed: what the server's config lists. Throws on anything but a user seed. */
export function natsPublicKey(seed: string): string {
  const kp = fromSeed(new TextEncoder().encode(seed));
  const key = kp.getPublicKey();
  if (!key.startsWith('U')) throw new Error('not a user nkey seed');
  return key;
}
