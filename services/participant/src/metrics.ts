import { Counter, Histogram, type Registry } from '@lessoncall/kit';

export interface ParticipantMetrics {
  joins: Counter<'outcome'>;
  joinSeconds: Histogram<'outcome'>;
  closed: Counter<'reason'>;
  turnFallbacks: Counter<'reason'>;
  deadLetters: Counter<string>;
  eventRetries: Counter<string>;
  chatMessages: Counter<string>;
  chatDuplicates: Counter<string>;
  boardUpdates: Counter<string>;
  boardBytes: Counter<string>;
  boardFull: Counter<string>;
  boardCompactions: Counter<string>;
  qualityReports: Counter<string>;
  recordsPublished: Counter<string>;
  outboxRelayed: Counter<string>;
}

export function createParticipantMetrics(registry: Registry): ParticipantMetrics {
  return {
    joins: new Counter({
      name: 'participant_joins_total',
      help: 'Join requests by outcome: joined, resumed, or the error code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    joinSeconds: new Histogram({
      name: 'participant_join_duration_seconds',
      help: 'Time to answer svc.participant.join, meeting verification and TURN included',
      labelNames: ['outcome'],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    closed: new Counter({
      name: 'participant_sessions_closed_total',
      help: 'Sessions closed, by reason (left, timeout, ended, removed)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    turnFallbacks: new Counter({
      name: 'participant_turn_fallbacks_total',
      help: 'Joins answered without ICE servers because svc.turn.credentials did not answer',
      labelNames: ['reason'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'participant_dead_letters_total',
      help: 'Events parked in the DEADLETTER stream (npm run deadletter), by type and reason (malformed, invalid)',
      labelNames: ['subject', 'reason'],
      registers: [registry],
    }),
    eventRetries: new Counter({
      name: 'participant_event_retries_total',
      help: 'Redeliveries asked for after a failure, by event type and failure (transient, unknown)',
      labelNames: ['subject', 'failure'],
      registers: [registry],
    }),
    chatMessages: new Counter({ name: 'participant_chat_messages_total', help: 'Chat messages stored', registers: [registry] }),
    chatDuplicates: new Counter({
      name: 'participant_chat_duplicates_total',
      help: 'Chat sends answered with the already stored message (a resend with a known client message id)',
      registers: [registry],
    }),
    boardUpdates: new Counter({ name: 'participant_board_updates_total', help: 'Whiteboard updates stored', registers: [registry] }),
    boardBytes: new Counter({ name: 'participant_board_update_bytes_total', help: 'Bytes of whiteboard updates stored', registers: [registry] }),
    boardFull: new Counter({
      name: 'participant_board_full_total',
      help: 'Whiteboard updates refused because the board reached BOARD_MAX_BYTES',
      registers: [registry],
    }),
    boardCompactions: new Counter({ name: 'participant_board_compactions_total', help: 'Whiteboards folded into a new snapshot', registers: [registry] }),
    qualityReports: new Counter({ name: 'participant_quality_reports_total', help: 'Call quality samples stored', registers: [registry] }),
    recordsPublished: new Counter({ name: 'participant_records_published_total', help: 'meeting.record_ready events published', registers: [registry] }),
    outboxRelayed: new Counter({
      name: 'participant_outbox_relayed_total',
      help: 'Events the sweep published for a publisher that did not finish (crashed, or the bus did not answer)',
      registers: [registry],
    }),
  };
}
