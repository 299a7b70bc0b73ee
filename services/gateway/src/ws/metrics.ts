import { Counter, Gauge, Histogram, type Registry } from '@lessoncall/kit';

export type WsMetrics = ReturnType<typeof createWsMetrics>;

export function createWsMetrics(registry: Registry, gauges: { sockets: () => number; sessions: () => number; meetings: () => number }) {
  return {
    received: new Counter({ name: 'gateway_ws_messages_received_total', help: 'Client messages by kind', labelNames: ['kind'], registers: [registry] }),
    sent: new Counter({ name: 'gateway_ws_messages_sent_total', help: 'Server messages by kind', labelNames: ['kind'], registers: [registry] }),
    errors: new Counter({ name: 'gateway_ws_errors_total', help: 'Error messages sent to clients by code', labelNames: ['code'], registers: [registry] }),
    closed: new Counter({ name: 'gateway_ws_closed_total', help: 'Sockets closed, by reason', labelNames: ['reason'], registers: [registry] }),
    upgradesRefused: new Counter({
      name: 'gateway_ws_upgrades_refused_total',
      help: 'WebSocket upgrades refused, by reason: rate, sockets (429: upgrades per minute, open sockets per client), invalid (400: a bad ?meeting= routing key)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    signalsRouted: new Counter({
      name: 'gateway_ws_signals_routed_total',
      help: 'Signals taken from clients, by path: local (same process), direct (signal.deliver), signaling (signal.route)',
      labelNames: ['path'],
      registers: [registry],
    }),
    signalsRefused: new Counter({
      name: 'gateway_ws_signals_refused_total',
      help: 'Signals refused with `unavailable` (the sender is told), by reason: overloaded, disconnected',
      labelNames: ['reason'],
      registers: [registry],
    }),
    signalGaps: new Counter({
      name: 'gateway_ws_signal_gaps_total',
      help: "Signals missing in a sender's numbering when the next one reached this gateway (lost on the way; the receiver restarts ICE)",
      registers: [registry],
    }),
    signalsLate: new Counter({
      name: 'gateway_ws_signals_late_total',
      help: 'Signals that reached this gateway after the receiver had given up waiting for them (dropped: the ICE restart supersedes them)',
      registers: [registry],
    }),
    presenceFailures: new Counter({
      name: 'gateway_ws_presence_failures_total',
      help: 'Presence reports the participant service did not answer',
      labelNames: ['state'],
      registers: [registry],
    }),
    hello: new Histogram({
      name: 'gateway_ws_hello_seconds',
      help: 'hello to welcome (token check, join, subscriptions)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    sockets: new Gauge({
      name: 'gateway_ws_sockets',
      help: 'Open WebSockets',
      registers: [registry],
      collect() {
        this.set(gauges.sockets());
      },
    }),
    sessions: new Gauge({
      name: 'gateway_ws_sessions',
      help: 'Sockets joined to a meeting',
      registers: [registry],
      collect() {
        this.set(gauges.sessions());
      },
    }),
    meetings: new Gauge({
      name: 'gateway_ws_meetings',
      help: 'Meetings with at least one socket here (shared event subscriptions)',
      registers: [registry],
      collect() {
        this.set(gauges.meetings());
      },
    }),
  };
}
