/**
 * The service levels that matter to a lesson, in one table: each one's good/total events as
 * PromQL over metrics the services export, its objective, and what to check first when it
 * burns. `generate.ts` turns the table into the chart's Prometheus rules (recording rules per
 * window, multiwindow burn-rate alerts) and its Grafana dashboard; the deploy checks prove the
 * generated files are current, that promtool accepts them and that the alerts fire on the
 * series they should; an integration test proves every metric they query is exported.
 */

export interface Slo {
  /** Short name: recording rules are `lessoncall:slo_<name>:error_ratio_rate<window>`. */
  name: string;
  title: string;
  /** Share of events that must be good over 30 days. */
  objective: number;
  /** PromQL for the bad events per second over a window (`$w` is replaced by it). */
  bad: string;
  /** PromQL for all events per second over the same window. */
  total: string;
  /** What the alert means, for the runbook and the alert's description. */
  meaning: string;
  /** The first three things to check. */
  firstChecks: [string, string, string];
}

const joinRoute = 'route="/api/video/meetings/:meetingId/join"';
/** Failures that are the user's or the meeting's doing do not count against the service. */
const serviceFailures = 'reason!~"refused|media_denied"';

export const slos: Slo[] = [
  {
    name: 'join_availability',
    title: 'Joins answered',
    objective: 0.999,
    bad: `sum(rate(gateway_http_request_duration_seconds_count{service="gateway",${joinRoute},status=~"5.."}[$w]))`,
    total: `sum(rate(gateway_http_request_duration_seconds_count{service="gateway",${joinRoute}}[$w]))`,
    meaning: 'POST …/join is answered 5xx (unavailable, internal): tutors and students cannot enter their lesson.',
    firstChecks: [
      'The participant and meeting services: replicas ready, their logs for `svc.participant.join` errors (`participant_joins_total` by outcome).',
      'Postgres: reachable, connections free (`participant_join_duration_seconds` p99 rising means the database is slow).',
      'NATS: the gateway connected (`/readyz`), no slow consumers; a rolling update in progress.',
    ],
  },
  {
    name: 'join_to_media',
    title: 'Join to first remote frame ≤ 3 s (client-reported)',
    objective: 0.95,
    bad: `(sum(rate(gateway_client_join_to_media_seconds_count{service="gateway"}[$w])) - sum(rate(gateway_client_join_to_media_seconds_bucket{service="gateway",le="3"}[$w]))) + sum(rate(gateway_client_join_failures_total{service="gateway",${serviceFailures}}[$w]))`,
    total: `sum(rate(gateway_client_join_to_media_seconds_count{service="gateway"}[$w])) + sum(rate(gateway_client_join_failures_total{service="gateway",${serviceFailures}}[$w]))`,
    meaning: 'Browsers report that the other participant’s video took longer than 3 s after Join, or never came (ICE failed, relay unreachable, no media).',
    firstChecks: [
      '`gateway_client_join_failures_total` by reason: `relay_unreachable`/`ice_failed` point at coturn (pods, host ports, TURN_SECRET rotation), `signaling_unreachable` at the gateway.',
      'Signalling: `gateway_ws_signals_refused_total`, `signaling_route_duration_seconds` p99, the signaling replicas.',
      '`gateway_client_join_to_media_seconds` by `relayed` and `browser`: one browser or only relayed calls slow narrows it down (a browser release, a coturn node).',
    ],
  },
  {
    name: 'signals_delivered',
    title: 'Signals delivered',
    objective: 0.9999,
    bad: 'sum(rate(gateway_ws_signals_refused_total{service="gateway"}[$w]))',
    total: 'sum(rate(gateway_ws_signals_refused_total{service="gateway"}[$w])) + sum(rate(gateway_ws_signals_routed_total{service="gateway"}[$w]))',
    meaning: 'Offers, answers or candidates refused by a gateway (NATS disconnected, outbox full): calls take longer to connect or do not.',
    firstChecks: [
      'The refusing gateways’ NATS connection (`reason="disconnected"`) and the NATS cluster’s health (`/healthz`, JetStream meta leader).',
      '`reason="overloaded"`: the gateway’s CPU and event-loop lag; add gateway replicas (`npm run capacity`).',
      'The signaling replicas: ready, `signaling_roster_rebuilds_total` failing.',
    ],
  },
  {
    name: 'booking_to_meeting',
    title: 'Booking → meeting within 5 s',
    objective: 0.99,
    bad: 'sum(rate(meeting_booking_to_meeting_seconds_count{service="meeting"}[$w])) - sum(rate(meeting_booking_to_meeting_seconds_bucket{service="meeting",le="5"}[$w]))',
    total: 'sum(rate(meeting_booking_to_meeting_seconds_count{service="meeting"}[$w]))',
    meaning: 'booking.confirmed takes longer than 5 s to become a meeting: the booking platform shows “link not ready”.',
    firstChecks: [
      'The meeting service’s consumer: `meeting_event_retries_total` and `meeting_events_retrying_long_total` by failure, its logs.',
      'Postgres write latency and locks (the batch insert, `meeting_create_batch_size`).',
      'The BOOKINGS stream’s consumer lag (`nats consumer info BOOKINGS meeting-bookings`) and the dead letters (`npm run deadletter`).',
    ],
  },
];

/** Multiwindow, multi-burn-rate alerts (the SRE workbook): a fast page, a slower page, a ticket. */
export const burnRates = [
  { severity: 'page', factor: 14.4, long: '1h', short: '5m', for: '2m' },
  { severity: 'page', factor: 6, long: '6h', short: '30m', for: '15m' },
  { severity: 'ticket', factor: 3, long: '1d', short: '2h', for: '1h' },
] as const;

export const windows = [...new Set(burnRates.flatMap((b) => [b.short, b.long]))];

export const recordName = (slo: Slo, window: string) => `lessoncall:slo_${slo.name}:error_ratio_rate${window}`;

/** Alerts that are thresholds rather than budgets: TURN is an input to join_to_media, watched on its own. */
export const thresholdAlerts = [
  {
    alert: 'LessoncallTurnAllocationFailures',
    expr: 'sum(rate(gateway_client_join_failures_total{service="gateway",reason="relay_unreachable"}[15m])) / clamp_min(sum(rate(gateway_client_join_to_media_seconds_count{service="gateway",relayed="true"}[15m])) + sum(rate(gateway_client_join_failures_total{service="gateway",reason="relay_unreachable"}[15m])), 1e-9) > 0.01',
    for: '10m',
    severity: 'page',
    summary: 'More than 1% of relayed joins cannot reach coturn',
    meaning: 'Browsers that need the relay gather no relay candidate: the coturn nodes are down, unreachable on their host ports, or reject the credentials.',
    firstChecks: [
      'coturn pods and their host ports / LoadBalancer (UDP 3478, TCP/TLS 443): reachable from outside the cluster.',
      'TURN_SECRET: the turn service and coturn share it (a rotation applied to one side only rejects every credential).',
      'coturn’s own metrics (`turn_total_allocations`) and logs: “401” means credentials, no log at all means the network.',
    ],
  },
  {
    alert: 'LessoncallTurnCredentialsMissing',
    expr: 'sum(rate(participant_turn_fallbacks_total{service="participant"}[10m])) > 0',
    for: '10m',
    severity: 'ticket',
    summary: 'Joins answered without TURN credentials',
    meaning: 'The participant service answered joins without relay credentials because the turn service did not answer: relayed participants cannot connect.',
    firstChecks: [
      'The turn service replicas: ready, `turn_credentials_issued_total` increasing.',
      'NATS permissions of the turn role (a changed subject) and its connection.',
      '`participant_turn_fallbacks_total` by reason: `unavailable` (no replica) or `timeout` (slow).',
    ],
  },
] as const;
