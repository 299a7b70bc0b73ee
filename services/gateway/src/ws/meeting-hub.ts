import { decode, type Logger, type Msg, type NatsConnection, type Subscription } from '@lessoncall/kit';
import {
  MeetingEndedSchema,
  type MuteChanged,
  MuteChangedSchema,
  type Participant,
  ParticipantJoinedSchema,
  ParticipantLeftSchema,
  subjects,
} from '@lessoncall/proto';

/** What a socket in a meeting is told about, decoded once per gateway, not once per socket. */
export type MeetingEvent =
  | { type: 'joined'; participant: Participant }
  | { type: 'left'; participant: Participant; reason: string }
  | { type: 'mute'; change: MuteChanged }
  | { type: 'ended'; reason: string };

export type MeetingListener = (event: MeetingEvent) => void;

interface Room {
  subscriptions: Subscription[];
  listeners: Set<MeetingListener>;
}

/**
 * One set of core NATS subscriptions per meeting per gateway process, shared by all of that
 * meeting's sockets here: with 20k sockets the bus carries each event once per gateway, and
 * the process holds five subscriptions per meeting, not per socket.
 */
export class MeetingHub {
  readonly #nc: NatsConnection;
  readonly #logger: Logger;
  readonly #rooms = new Map<string, Room>();

  constructor(nc: NatsConnection, logger: Logger) {
    this.#nc = nc;
    this.#logger = logger;
  }

  get meetings(): number {
    return this.#rooms.size;
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
        for (const l of created.listeners) l(event);
      };
      const subscribe = (subject: string, parse: (msg: Msg) => MeetingEvent) =>
        created.subscriptions.push(this.#nc.subscribe(subject, { callback: on(parse) }));
      subscribe(subjects.participantJoined(meetingId), (m) => ({ type: 'joined', participant: required(decode(ParticipantJoinedSchema, m.data).participant) }));
      subscribe(subjects.participantLeft(meetingId), (m) => {
        const e = decode(ParticipantLeftSchema, m.data);
        return { type: 'left', participant: required(e.participant), reason: e.reason };
      });
      subscribe(subjects.muteChanged(meetingId), (m) => ({ type: 'mute', change: decode(MuteChangedSchema, m.data) }));
      subscribe(subjects.meetingEnded(meetingId), (m) => ({ type: 'ended', reason: decode(MeetingEndedSchema, m.data).reason }));
      subscribe(subjects.meetingCancelled(meetingId), () => ({ type: 'ended', reason: 'cancelled' }));
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
        for (const s of joined.subscriptions) s.unsubscribe();
      }
    };
  }
}

function required(p: Participant | undefined): Participant {
  if (!p) throw new Error('event without participant');
  return p;
}
