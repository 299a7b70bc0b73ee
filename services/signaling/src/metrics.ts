import type { Meter } from '@lessoncall/kit';
import type { Roster } from './roster';

export type RejectReason = 'malformed' | 'invalid_request' | 'message_too_large' | 'not_in_meeting' | 'session_not_found';

export function createSignalingMetrics(meter: Meter, roster: Roster) {
  meter
    .createObservableGauge('signaling_roster_sessions', { description: 'Live sessions this replica knows' })
    .addCallback((r) => r.observe(roster.size.sessions));
  meter
    .createObservableGauge('signaling_roster_meetings', { description: 'Meetings with at least one live session' })
    .addCallback((r) => r.observe(roster.size.meetings));
  return {
    routed: meter.createCounter<{ type: string }>('signaling_signals_routed_total', { description: 'Signals delivered to their target session' }),
    rejected: meter.createCounter<{ reason: RejectReason }>('signaling_signals_rejected_total', {
      description: 'Signals dropped, by reason (the sender gets the reason as errorCode, except for malformed ones)',
    }),
    routeSeconds: meter.createHistogram('signaling_route_duration_seconds', {
      description: 'From receiving a signal to publishing it to its target (including a roster re-check)',
      advice: { explicitBucketBoundaries: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1] },
    }),
    rechecks: meter.createCounter<{ outcome: string }>('signaling_roster_rechecks_total', {
      description: 'Re-reads of one meeting roster after a signal named an unknown session, by outcome',
    }),
    rebuilds: meter.createCounter<{ trigger: string; outcome: string }>('signaling_roster_rebuilds_total', { description: 'Full roster re-reads, by outcome' }),
    events: meter.createCounter<{ type: string }>('signaling_participant_events_total', { description: 'participant events applied to the roster' }),
  };
}

export type SignalingMetrics = ReturnType<typeof createSignalingMetrics>;
