import { type Counter, fromZero, type Histogram, type Meter } from '@lessoncall/kit';

export interface ParticipantMetrics {
  joins: Counter<{ outcome: string }>;
  joinSeconds: Histogram<{ outcome: string }>;
  closed: Counter<{ reason: string }>;
  turnFallbacks: Counter<{ reason: string }>;
  deadLetters: Counter<{ subject: string; reason: string }>;
  eventRetries: Counter<{ subject: string; failure: string }>;
  chatMessages: Counter;
  chatDuplicates: Counter;
  boardUpdates: Counter;
  boardBytes: Counter;
  boardFull: Counter;
  boardCompactions: Counter;
  qualityReports: Counter;
  recordsPublished: Counter;
  outboxRelayed: Counter;
}

export function createParticipantMetrics(meter: Meter): ParticipantMetrics {
  const counter = (name: string, description: string) => fromZero(meter.createCounter(name, { description }));
  return {
    joins: meter.createCounter('participant_joins_total', { description: 'Join requests by outcome: joined, resumed, or the error code' }),
    joinSeconds: meter.createHistogram('participant_join_duration_seconds', {
      description: 'Time to answer svc.participant.join, meeting verification and TURN included',
      advice: { explicitBucketBoundaries: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
    }),
    closed: meter.createCounter('participant_sessions_closed_total', { description: 'Sessions closed, by reason (left, timeout, ended, removed)' }),
    turnFallbacks: meter.createCounter('participant_turn_fallbacks_total', {
      description: 'Joins answered without ICE servers because svc.turn.credentials did not answer',
    }),
    deadLetters: meter.createCounter('participant_dead_letters_total', {
      description: 'Events parked in the DEADLETTER stream (npm run deadletter), by type and reason (malformed, invalid)',
    }),
    eventRetries: meter.createCounter('participant_event_retries_total', {
      description: 'Redeliveries asked for after a failure, by event type and failure (transient, unknown)',
    }),
    chatMessages: counter('participant_chat_messages_total', 'Chat messages stored'),
    chatDuplicates: counter(
      'participant_chat_duplicates_total',
      'Chat sends answered with the already stored message (a resend with a known client message id)',
    ),
    boardUpdates: counter('participant_board_updates_total', 'Whiteboard updates stored'),
    boardBytes: counter('participant_board_update_bytes_total', 'Bytes of whiteboard updates stored'),
    boardFull: counter('participant_board_full_total', 'Whiteboard updates refused because the board reached BOARD_MAX_BYTES'),
    boardCompactions: counter('participant_board_compactions_total', 'Whiteboards folded into a new snapshot'),
    qualityReports: counter('participant_quality_reports_total', 'Call quality samples stored'),
    recordsPublished: counter('participant_records_published_total', 'meeting.record_ready events published'),
    outboxRelayed: counter(
      'participant_outbox_relayed_total',
      'Events the sweep published for a publisher that did not finish (crashed, or the bus did not answer)',
    ),
  };
}
