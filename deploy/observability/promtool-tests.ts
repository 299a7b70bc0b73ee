/**
 * Unit tests of the generated alerts for `promtool test rules`: for each service level, a
 * healthy hour fires nothing and a burning one fires the two pages (not yet the ticket, whose
 * `for` is an hour); the TURN alerts fire on relay failures and stay quiet without them.
 * Built here, not written by hand, so the expected annotations are the generated ones.
 */
import { burnAlertName, rules } from './generate';
import { burnRates, slos, thresholdAlerts } from './slos';

interface Series {
  series: string;
  values: string;
}

const join = 'route="/api/video/meetings/:meetingId/join"';
/** A counter growing by `perMinute` for two hours of one-minute samples. */
const counter = (series: string, perMinute: number): Series => ({ series, values: `0+${perMinute}x120` });

/** Each service level's series: healthy (no bad events) and burning (bad events far above the budget). */
const scenarios: Record<string, { healthy: Series[]; burning: Series[] }> = {
  join_availability: {
    healthy: [counter(`gateway_http_request_duration_seconds_count{service="gateway",${join},status="200"}`, 100)],
    burning: [
      counter(`gateway_http_request_duration_seconds_count{service="gateway",${join},status="200"}`, 90),
      counter(`gateway_http_request_duration_seconds_count{service="gateway",${join},status="503"}`, 10),
    ],
  },
  join_to_media: {
    // Refused joins (a wrong passcode, an ended meeting) are not the service's failures.
    healthy: [
      counter('gateway_client_join_to_media_seconds_bucket{service="gateway",le="3",relayed="false",browser="chromium"}', 100),
      counter('gateway_client_join_to_media_seconds_count{service="gateway",relayed="false",browser="chromium"}', 100),
      counter('gateway_client_join_failures_total{service="gateway",reason="refused",browser="chromium"}', 500),
    ],
    burning: [
      counter('gateway_client_join_to_media_seconds_bucket{service="gateway",le="3",relayed="false",browser="chromium"}', 10),
      counter('gateway_client_join_to_media_seconds_count{service="gateway",relayed="false",browser="chromium"}', 100),
      counter('gateway_client_join_failures_total{service="gateway",reason="ice_failed",browser="firefox"}', 20),
    ],
  },
  signals_delivered: {
    healthy: [counter('gateway_ws_signals_routed_total{service="gateway",path="direct"}', 1000)],
    burning: [
      counter('gateway_ws_signals_routed_total{service="gateway",path="direct"}', 1000),
      counter('gateway_ws_signals_refused_total{service="gateway",reason="disconnected"}', 10),
    ],
  },
  booking_to_meeting: {
    healthy: [
      counter('meeting_booking_to_meeting_seconds_bucket{service="meeting",le="5"}', 100),
      counter('meeting_booking_to_meeting_seconds_count{service="meeting"}', 100),
    ],
    burning: [
      counter('meeting_booking_to_meeting_seconds_bucket{service="meeting",le="5"}', 50),
      counter('meeting_booking_to_meeting_seconds_count{service="meeting"}', 100),
    ],
  },
};

const generated = rules();
const annotationsOf = (alert: string, window?: string): { annotations: Record<string, string>; labels: Record<string, string> } | undefined => {
  const rule = generated.groups.flatMap((g) => g.rules).find((r) => r.alert === alert && (window === undefined || r.labels?.window === window));
  return rule ? { annotations: rule.annotations ?? {}, labels: rule.labels ?? {} } : undefined;
};

const evalMinutes = 40;

export function promtoolTests(rulesPath: string) {
  const tests = [];
  for (const slo of slos) {
    const s = scenarios[slo.name];
    if (!s) throw new Error(`no promtool scenario for the service level ${slo.name}: add one to deploy/observability/promtool-tests.ts`);
    tests.push({
      name: `${slo.name}: healthy`,
      interval: '1m',
      input_series: s.healthy,
      alert_rule_test: [{ eval_time: `${evalMinutes}m`, alertname: burnAlertName(slo), exp_alerts: [] }],
    });
    // After 40 minutes of burning: both pages fire; the ticket waits for its hour-long `for`.
    const pages = burnRates.filter((b) => b.severity === 'page');
    tests.push({
      name: `${slo.name}: burning`,
      interval: '1m',
      input_series: s.burning,
      alert_rule_test: [
        {
          eval_time: `${evalMinutes}m`,
          alertname: burnAlertName(slo),
          exp_alerts: pages.map((b) => {
            const rule = annotationsOf(burnAlertName(slo), b.long);
            if (!rule) throw new Error(`no generated alert ${burnAlertName(slo)} for ${b.long}`);
            return { exp_labels: rule.labels, exp_annotations: expandValue(rule.annotations, slo.name) };
          }),
        },
      ],
    });
  }
  for (const t of thresholdAlerts) {
    const rule = annotationsOf(t.alert);
    if (!rule) throw new Error(`no generated alert ${t.alert}`);
    const firing: Series[] =
      t.alert === 'LessoncallTurnAllocationFailures'
        ? [
            counter('gateway_client_join_to_media_seconds_count{service="gateway",relayed="true",browser="chromium"}', 95),
            counter('gateway_client_join_failures_total{service="gateway",reason="relay_unreachable",browser="chromium"}', 5),
          ]
        : [counter('participant_turn_fallbacks_total{service="participant",reason="unavailable"}', 1)];
    const quiet: Series[] =
      t.alert === 'LessoncallTurnAllocationFailures'
        ? [counter('gateway_client_join_to_media_seconds_count{service="gateway",relayed="true",browser="chromium"}', 100)]
        : [counter('participant_turn_fallbacks_total{service="participant",reason="unavailable"}', 0)];
    tests.push({
      name: `${t.alert}: quiet`,
      interval: '1m',
      input_series: quiet,
      alert_rule_test: [{ eval_time: `${evalMinutes}m`, alertname: t.alert, exp_alerts: [] }],
    });
    tests.push({
      name: `${t.alert}: firing`,
      interval: '1m',
      input_series: firing,
      alert_rule_test: [{ eval_time: `${evalMinutes}m`, alertname: t.alert, exp_alerts: [{ exp_labels: rule.labels, exp_annotations: rule.annotations }] }],
    });
  }
  return { rule_files: [rulesPath], evaluation_interval: '1m', tests };
}

/** The description carries `{{ $value | humanizePercentage }}`: the error ratio each burning scenario has. */
function expandValue(annotations: Record<string, string>, slo: string): Record<string, string> {
  const ratios: Record<string, string> = {
    join_availability: '10%',
    // 90 slow of 100, plus 20 failures: 110 of 120.
    join_to_media: '91.67%',
    // 10 refused of 1,010.
    signals_delivered: '0.9901%',
    booking_to_meeting: '50%',
  };
  const value = ratios[slo];
  if (!value) throw new Error(`no expected ratio for ${slo}`);
  return { ...annotations, description: annotations.description!.replace('{{ $value | humanizePercentage }}', value) };
}
