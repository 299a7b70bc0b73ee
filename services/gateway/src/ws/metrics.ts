import { fromZero, type Meter } from '@lessoncall/kit';

export type WsMetrics = ReturnType<typeof createWsMetrics>;

export function createWsMetrics(meter: Meter, gauges: { sockets: () => number; sessions: () => number; meetings: () => number }) {
  const gauge = (name: string, description: string, read: () => number) =>
    meter.createObservableGauge(name, { description }).addCallback((r) => r.observe(read()));
  gauge('gateway_ws_sockets', 'Open WebSockets', gauges.sockets);
  gauge('gateway_ws_sessions', 'Sockets joined to a meeting', gauges.sessions);
  gauge('gateway_ws_meetings', 'Meetings with at least one socket here (shared event subscriptions)', gauges.meetings);
  return {
    received: meter.createCounter<{ kind: string }>('gateway_ws_messages_received_total', { description: 'Client messages by kind' }),
    sent: meter.createCounter<{ kind: string }>('gateway_ws_messages_sent_total', { description: 'Server messages by kind' }),
    errors: meter.createCounter<{ code: string }>('gateway_ws_errors_total', { description: 'Error messages sent to clients by code' }),
    closed: meter.createCounter<{ reason: string }>('gateway_ws_closed_total', { description: 'Sockets closed, by reason' }),
    upgradesRefused: meter.createCounter<{ reason: string }>('gateway_ws_upgrades_refused_total', {
      description:
        'WebSocket upgrades refused, by reason: rate, sockets (429: upgrades per minute, open sockets per client), invalid (400: a bad ?meeting= routing key)',
    }),
    signalsRouted: meter.createCounter<{ path: string }>('gateway_ws_signals_routed_total', {
      description: 'Signals taken from clients, by path: local (same process), direct (signal.deliver), signaling (signal.route)',
    }),
    signalsRefused: meter.createCounter<{ reason: string }>('gateway_ws_signals_refused_total', {
      description: 'Signals refused with `unavailable` (the sender is told), by reason: overloaded, disconnected',
    }),
    signalGaps: fromZero(
      meter.createCounter('gateway_ws_signal_gaps_total', {
        description: "Signals missing in a sender's numbering when the next one reached this gateway (lost on the way; the receiver restarts ICE)",
      }),
    ),
    signalsLate: fromZero(
      meter.createCounter('gateway_ws_signals_late_total', {
        description: 'Signals that reached this gateway after the receiver had given up waiting for them (dropped: the ICE restart supersedes them)',
      }),
    ),
    presenceFailures: meter.createCounter<{ state: string }>('gateway_ws_presence_failures_total', {
      description: 'Presence reports the participant service did not answer',
    }),
    hello: meter.createHistogram('gateway_ws_hello_seconds', {
      description: 'hello to welcome (token check, join, subscriptions)',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
    }),
  };
}
