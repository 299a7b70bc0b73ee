import { Counter, Gauge, Histogram, type Registry } from '@lessoncall/kit';
import type { Roster } from './roster';

export type RejectReason = 'malformed' | 'invalid_request' | 'message_too_large' | 'not_in_meeting' | 'session_not_found';

export function createSignalingMetrics(registry: Registry, roster: Roster) {
  const registers = [registry];
  new Gauge({
    name: 'signaling_roster_sessions',
    help: 'Live sessions this replica knows',
    registers,
    collect() {
      this.set(roster.size.sessions);
    },
  });
  new Gauge({
    name: 'signaling_roster_meetings',
    help: 'Meetings with at least one live session',
    registers,
    collect() {
      this.set(roster.size.meetings);
    },
  });
  return {
    routed: new Counter({ name: 'signaling_signals_routed_total', help: 'Signals delivered to their target session', labelNames: ['type'], registers }),
    rejected: new Counter({
      name: 'signaling_signals_rejected_total',
      help: 'Signals dropped, by reason (the sender gets the reason as errorCode, except for malformed ones)',
      labelNames: ['reason'],
      registers,
    }),
    routeSeconds: new Histogram({
      name: 'signaling_route_duration_seconds',
      help: 'From receiving a signal to publishing it to its target (including a roster re-check)',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
      registers,
    }),
    rechecks: new Counter({
      name: 'signaling_roster_rechecks_total',
      help: 'Re-reads of one meeting roster after a signal named an unknown session, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    rebuilds: new Counter({ name: 'signaling_roster_rebuilds_total', help: 'Full roster re-reads, by outcome', labelNames: ['trigger', 'outcome'], registers }),
    events: new Counter({ name: 'signaling_participant_events_total', help: 'participant events applied to the roster', labelNames: ['type'], registers }),
  };
}

export type SignalingMetrics = ReturnType<typeof createSignalingMetrics>;
