import { decode, type Logger, type Msg, type NatsConnection, type ServiceClient, type Subscription, systemClock, client } from '@lessoncall/kit';
import {
  type BoardControlled,
  BoardControlledSchema,
  type BoardUpdated,
  BoardUpdatedSchema,
  type ChatMessage,
  ChatPostedSchema,
  MeetingEndedSchema,
  type MuteChanged,
  MuteChangedSchema,
  type Participant,
  ParticipantJoinedSchema,
  MediaRoomCreatedSchema,
  ParticipantLeftSchema,
  subjects,
  type UnmuteAsked,
  UnmuteAskedSchema,
  ParticipantService,
} from '@lessoncall/proto';
import { Roster, type SnapshotMark } from '@lessoncall/signaling/roster';

/** What a socket in a meeting is told about, decoded once per gateway, not once per socket. */
export type MeetingEvent =
  | { type: 'joined'; participant: Participant }
  | { type: 'left'; participant: Participant; reason: string; removedByUserId: string }
  | { type: 'mute'; change: MuteChanged }
  | { type: 'ended'; reason: string }
  | { type: 'chat'; message: ChatMessage }
  | { type: 'unmuteAsked'; asked: UnmuteAsked }
  | { type: 'board'; update: BoardUpdated }
  | { type: 'boardControl'; control: BoardControlled }
  /** The meeting's Janus room was re-created on another node (its node died): its sockets get new access. */
  | { type: 'roomMoved'; generation: number };

export type MeetingListener = (event: MeetingEvent) => void;

interface Room {
  subscriptions: Subscription[];
  listeners: Set<MeetingListener>;
}

export interface MeetingHubOptions {
  /** How long a session that left is remembered (see Roster). */
  tombstoneTtlMs: number;
  /** Least time between two re-reads of one meeting's live sessions. */
  recheckMinMs: number;
  /** Deadline of a re-read (svc.participant.live_sessions). */
  timeoutMs: number;
}

/**
 * One set of core NATS subscriptions per meeting per gateway process, shared by all of that
 * meeting's sockets here: with 20k sockets the bus carries each event once per gateway, and
 * the process holds seven subscriptions per meeting, not per socket.
 *
 * The same events keep a roster view of those meetings — the signaling service's `Roster`,
 * seeded from each welcome's participant list and re-read after a miss or a NATS reconnect —
 * so that the gateway can send a signal straight to the gateway holding its target when both
 * ends are live sessions of the meeting, and leave only the undecided ones to signaling.
 */
export class MeetingHub {
  readonly #nc: NatsConnection;
  readonly #logger: Logger;
  readonly #options: MeetingHubOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #roster: Roster;
  readonly #rechecks = new Map<string, number>();

  readonly #participants: ServiceClient<typeof ParticipantService>;

  constructor(nc: NatsConnection, logger: Logger, options: MeetingHubOptions) {
    this.#nc = nc;
    this.#participants = client(nc, ParticipantService, { timeoutMs: options.timeoutMs });
    this.#logger = logger;
    this.#options = options;
    this.#roster = new Roster(systemClock, options.tombstoneTtlMs);
    const housekeeping = setInterval(() => {
      this.#roster.sweep();
      const horizon = performance.now() - options.recheckMinMs;
      for (const [meetingId, at] of this.#rechecks) if (at < horizon) this.#rechecks.delete(meetingId);
    }, 60_000);
    housekeeping.unref();
  }

  get meetings(): number {
    return this.#rooms.size;
  }

  /** Whether `sessionId` is, as far as this gateway knows, a live session of `meetingId`. */
  isLive(meetingId: string, sessionId: string): boolean {
    return this.#roster.isLive(meetingId, sessionId);
  }

  /** Call before asking for a snapshot of a meeting (a join); pass it to `seed`. */
  mark(): SnapshotMark {
    return this.#roster.mark();
  }

  /** A meeting's live sessions as the participant service listed them (a welcome). */
  seed(meetingId: string, sessions: ReadonlyArray<{ sessionId: string }>, mark: SnapshotMark): void {
    if (!this.#rooms.has(meetingId)) return;
    this.#roster.applySnapshot(
      sessions.map((s) => ({ meetingId, sessionId: s.sessionId })),
      mark,
      meetingId,
    );
  }

  /**
   * The view had no answer for a session of this meeting (it joined a moment ago, or events
   * were missed): re-read the meeting's live sessions, at most once per `recheckMinMs`.
   */
  recheck(meetingId: string): void {
    if (!this.#rooms.has(meetingId)) return;
    const now = performance.now();
    const last = this.#rechecks.get(meetingId);
    if (last !== undefined && now - last < this.#options.recheckMinMs) return;
    this.#rechecks.set(meetingId, now);
    const mark = this.#roster.mark();
    this.#participants.liveSessions({ meetingId }).then(
      (res) => {
        if (this.#rooms.has(meetingId)) this.#roster.applySnapshot(res.sessions, mark, meetingId);
      },
      (err: unknown) => this.#logger.debug({ err, meetingId }, 'could not re-read the meeting roster; signals keep going through signaling'),
    );
  }

  /** Events may have been missed (NATS reconnected): nothing is known live until re-read. */
  forgetAll(): void {
    for (const meetingId of this.#rooms.keys()) this.#roster.forget(meetingId);
    this.#rechecks.clear();
  }

  /** Starts listening to a meeting's events (subscribing if this is its first socket here); returns the release. */
  acquire(meetingId: string, listener: MeetingListener): () => void {
    let room = this.#rooms.get(meetingId);
    if (!room) {
      const created: Room = { subscriptions: [], listeners: new Set() };
      const on = (parse: (msg: Msg) => MeetingEvent) => (err: Error | null, msg: Msg) => {
        if (err) {
          this.#logger.warn({ err, meetingId }, 'meeting subscription failed');
          return;
        }
        let event: MeetingEvent;
        try {
          event = parse(msg);
        } catch (e) {
          this.#logger.warn({ err: e, meetingId, subject: msg.subject }, 'undecodable meeting event dropped');
          return;
        }
        this.#track(meetingId, event);
        for (const l of created.listeners) l(event);
      };
      const subscribe = (subject: string, parse: (msg: Msg) => MeetingEvent) =>
        created.subscriptions.push(this.#nc.subscribe(subject, { callback: on(parse) }));
      subscribe(subjects.participantJoined(meetingId), (m) => ({ type: 'joined', participant: required(decode(ParticipantJoinedSchema, m.data).participant) }));
      subscribe(subjects.participantLeft(meetingId), (m) => {
        const e = decode(ParticipantLeftSchema, m.data);
        return { type: 'left', participant: required(e.participant), reason: e.reason, removedByUserId: e.removedByUserId };
      });
      subscribe(subjects.muteChanged(meetingId), (m) => ({ type: 'mute', change: decode(MuteChangedSchema, m.data) }));
      subscribe(subjects.meetingEnded(meetingId), (m) => ({ type: 'ended', reason: decode(MeetingEndedSchema, m.data).reason }));
      subscribe(subjects.meetingCancelled(meetingId), () => ({ type: 'ended', reason: 'cancelled' }));
      subscribe(subjects.chatPosted(meetingId), (m) => {
        const message = decode(ChatPostedSchema, m.data).message;
        if (!message || message.meetingId !== meetingId) throw new Error('chat.posted without a message of this meeting');
        return { type: 'chat', message };
      });
      subscribe(subjects.tutorUnmuteAsked(meetingId), (m) => {
        const asked = decode(UnmuteAskedSchema, m.data);
        if (asked.meetingId !== meetingId) throw new Error('tutor.unmute_asked of another meeting');
        return { type: 'unmuteAsked', asked };
      });
      // One subscription for the board's two subjects (updated, controlled).
      subscribe(subjects.boardAny(meetingId), (m) => {
        if (m.subject === subjects.boardControlled(meetingId)) {
          const control = decode(BoardControlledSchema, m.data);
          if (control.meetingId !== meetingId) throw new Error('board.controlled of another meeting');
          return { type: 'boardControl', control };
        }
        const update = decode(BoardUpdatedSchema, m.data);
        if (update.meetingId !== meetingId || update.update.length === 0) throw new Error('board.updated without an update of this meeting');
        return { type: 'board', update };
      });
      subscribe(subjects.mediaRoomCreated(meetingId), (m) => {
        const e = decode(MediaRoomCreatedSchema, m.data);
        if (e.meetingId !== meetingId) throw new Error('media.room_created of another meeting');
        return { type: 'roomMoved', generation: e.generation };
      });
      room = created;
      this.#rooms.set(meetingId, room);
    }
    const joined = room;
    joined.listeners.add(listener);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && this.#rooms.get(meetingId) === joined) {
        this.#rooms.delete(meetingId);
        this.#roster.forget(meetingId);
        this.#rechecks.delete(meetingId);
        for (const s of joined.subscriptions) s.unsubscribe();
      }
    };
  }

  #track(meetingId: string, event: MeetingEvent): void {
    if (event.type === 'joined') this.#roster.join(meetingId, event.participant.sessionId);
    else if (event.type === 'left') this.#roster.leave(meetingId, event.participant.sessionId);
    else if (event.type === 'ended') this.#roster.forget(meetingId);
  }
}

function required(p: Participant | undefined): Participant {
  if (!p) throw new Error('event without participant');
  return p;
}
