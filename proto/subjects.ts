/**
 * Every subject, stream and queue group on the bus, named once. `<id>` tokens are validated
 * so that a meeting or session id can never widen a subscription (no `.`, `*`, `>`, spaces).
 */

const tokenPattern = /^[A-Za-z0-9_-]{1,128}$/;

export function isSubjectToken(value: string): boolean {
  return tokenPattern.test(value);
}

function token(value: string): string {
  if (!tokenPattern.test(value)) throw new Error(`not a valid subject token: ${JSON.stringify(value)}`);
  return value;
}

export const streams = {
  bookings: { name: 'BOOKINGS', subjects: ['booking.>'] },
  meetings: { name: 'MEETINGS', subjects: ['meeting.>'] },
  participants: { name: 'PARTICIPANTS', subjects: ['participant.>', 'mute.changed.>'] },
  /** Events no consumer can ever process (malformed, invalid), kept for an operator to read and replay (`npm run deadletter`). */
  deadLetters: { name: 'DEADLETTER', subjects: ['deadletter.>'] },
  /** A new meeting's passcode and link, for the booking system only (its NATS user alone may read them). */
  meetingLinks: { name: 'MEETING_LINKS', subjects: ['meeting_link.>'] },
  /** The media service's events: rooms on Janus nodes, recordings. */
  media: { name: 'MEDIA', subjects: ['media.>', 'recording.>'] },
} as const;

export const subjects = {
  bookingConfirmed: 'booking.confirmed',
  bookingCancelled: 'booking.cancelled',
  bookingRescheduled: 'booking.rescheduled',

  meetingCreated: (meetingId: string) => `meeting.created.${token(meetingId)}`,
  /** The passcode and link of a new meeting: not under meeting.>, so not in MEETINGS. */
  meetingLinkCreated: (meetingId: string) => `meeting_link.created.${token(meetingId)}`,
  meetingStarted: (meetingId: string) => `meeting.started.${token(meetingId)}`,
  meetingEnded: (meetingId: string) => `meeting.ended.${token(meetingId)}`,
  meetingCancelled: (meetingId: string) => `meeting.cancelled.${token(meetingId)}`,
  meetingRescheduled: (meetingId: string) => `meeting.rescheduled.${token(meetingId)}`,
  meetingNoShow: (meetingId: string) => `meeting.no_show.${token(meetingId)}`,
  /** The lesson record, once per meeting after its end (published by the participant service, which owns what it holds). */
  meetingRecordReady: (meetingId: string) => `meeting.record_ready.${token(meetingId)}`,

  participantJoined: (meetingId: string) => `participant.joined.${token(meetingId)}`,
  participantLeft: (meetingId: string) => `participant.left.${token(meetingId)}`,
  muteChanged: (meetingId: string) => `mute.changed.${token(meetingId)}`,
  /** Core NATS fan-out of a stored chat message to the gateways holding the meeting's sockets (the table is the record; a miss is healed by the history on resume). */
  chatPosted: (meetingId: string) => `chat.posted.${token(meetingId)}`,
  /** Core NATS: the tutor asked a session to unmute; every gateway of the meeting hears it, only the target's socket is told (a prompt is worth nothing later, so it is not stored). */
  tutorUnmuteAsked: (meetingId: string) => `tutor.unmute_asked.${token(meetingId)}`,
  /** Core NATS fan-out of a stored whiteboard update (the table is the record; a miss is healed by the state exchange on resume). */
  boardUpdated: (meetingId: string) => `board.updated.${token(meetingId)}`,
  /** Core NATS: the tutor locked, unlocked or cleared the board. */
  boardControlled: (meetingId: string) => `board.controlled.${token(meetingId)}`,
  /** Both board subjects of one meeting (the gateway's one subscription per meeting). */
  boardAny: (meetingId: string) => `board.*.${token(meetingId)}`,

  /** A meeting's VideoRoom exists on a node (first join, or re-created after its node died). */
  mediaRoomCreated: (meetingId: string) => `media.room_created.${token(meetingId)}`,
  recordingStarted: (meetingId: string) => `recording.started.${token(meetingId)}`,
  recordingReady: (meetingId: string) => `recording.ready.${token(meetingId)}`,

  signalRoute: (meetingId: string) => `signal.route.${token(meetingId)}`,
  signalDeliver: (sessionId: string) => `signal.deliver.${token(sessionId)}`,

  /** What the signaling service listens to: every meeting's signal.route, and every participant.joined / left. */
  signalRouteAny: 'signal.route.*',
  participantAny: 'participant.*.*',
  /** The meeting token of a signal.route.<meetingId> subject. */
  meetingOfSignalRoute: (subject: string) => subject.slice('signal.route.'.length),

  /** Where a message that cannot be processed is parked, with the reason. */
  deadLetter: (subject: string) => `deadletter.${subject}`,
} as const;

/**
 * Queue groups outside the request/reply services (which declare theirs in proto, `nats_queue`,
 * read by `rpcQueue`): signaling's consumers of signal.route.
 */
export const queues = {
  signaling: 'signaling',
} as const;

/** CloudEvents `ce-type`: the subject without its id token. */
export function eventTypeOf(subject: string): string {
  const parts = subject.split('.');
  return parts.length > 2 ? parts.slice(0, 2).join('.') : subject;
}
