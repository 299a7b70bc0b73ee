/**
 * `npm run observability:gen` (deploy/): the chart's Prometheus rules and Grafana dashboard
 * from the SLO table in slos.ts, written to deploy/helm/lessoncall/files/. `--check` only
 * compares (the deploy checks run it: a changed table must be regenerated and committed).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { burnRates, recordName, type Slo, slos, thresholdAlerts, windows } from './slos';

export const filesDir = join(import.meta.dirname, '..', 'helm', 'lessoncall', 'files');
export const rulesFile = join(filesDir, 'prometheus-rules.yaml');
export const dashboardFile = join(filesDir, 'grafana-dashboard.json');
/** The README's runbook: each alert has a heading of its name there. */
export const runbookUrl = 'https://github.com/lessoncall/lessoncall/blob/main/README.md';

const pascal = (name: string) =>
  name
    .split('_')
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');
export const burnAlertName = (slo: Slo) => `Lessoncall${pascal(slo.name)}BudgetBurn`;
const budget = (slo: Slo) => Number((1 - slo.objective).toPrecision(6));
const at = (expr: string, window: string) => expr.replaceAll('$w', window);

/** One Prometheus rule: recording (`record`) or alerting (`alert`). */
export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function rules(): { groups: { name: string; rules: Rule[] }[] } {
  return {
    groups: [
      {
        name: 'lessoncall-slo-ratios',
        rules: slos.flatMap((slo) =>
          windows.map((w) => ({
            record: recordName(slo, w),
            // clamp_min: no traffic is no error (0), not NaN.
            expr: `(${at(slo.bad, w)}) / clamp_min(${at(slo.total, w)}, 1e-9)`,
          })),
        ),
      },
      {
        name: 'lessoncall-slo-alerts',
        rules: slos.flatMap((slo) =>
          burnRates.map((b) => {
            const threshold = Number((b.factor * budget(slo)).toPrecision(6));
            return {
              alert: burnAlertName(slo),
              expr: `${recordName(slo, b.long)} > ${threshold} and ${recordName(slo, b.short)} > ${threshold}`,
              for: b.for,
              labels: { severity: b.severity, slo: slo.name, window: b.long },
              annotations: {
                summary: `${slo.title}: error budget burning ${b.factor}× too fast (${b.long})`,
                description: `${slo.meaning} Objective ${slo.objective * 100}% over 30 days; over the last ${b.long} {{ $value | humanizePercentage }} failed.`,
                runbook_url: `${runbookUrl}#${burnAlertName(slo).toLowerCase()}`,
              },
            };
          }),
        ),
      },
      {
        name: 'lessoncall-thresholds',
        rules: thresholdAlerts.map((t) => ({
          alert: t.alert,
          expr: t.expr,
          for: t.for,
          labels: { severity: t.severity },
          annotations: { summary: t.summary, description: t.meaning, runbook_url: `${runbookUrl}#${t.alert.toLowerCase()}` },
        })),
      },
    ],
  };
}

type Panel = Record<string, unknown>;
let panelId = 0;
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template literal
const datasource = { type: 'prometheus', uid: '${datasource}' };
const gridPos = (i: number, w = 12, h = 8) => ({ x: (i % 2) * 12, y: Math.floor(i / 2) * h, w, h });

function timeseries(title: string, unit: string, targets: { expr: string; legend: string }[], i: number, thresholds?: number): Panel {
  return {
    id: ++panelId,
    type: 'timeseries',
    title,
    datasource,
    gridPos: gridPos(i),
    fieldConfig: {
      defaults: {
        unit,
        ...(thresholds === undefined
          ? {}
          : {
              thresholds: {
                mode: 'absolute',
                steps: [
                  { color: 'green', value: null },
                  { color: 'red', value: thresholds },
                ],
              },
              custom: { thresholdsStyle: { mode: 'line' } },
            }),
      },
      overrides: [],
    },
    targets: targets.map((t, n) => ({ refId: String.fromCharCode(65 + n), datasource, expr: t.expr, legendFormat: t.legend })),
  };
}

export function dashboard() {
  panelId = 0;
  const panels: Panel[] = [];
  for (const slo of slos) {
    panels.push(
      timeseries(
        `SLO: ${slo.title} (objective ${slo.objective * 100}%)`,
        'percentunit',
        [
          { expr: recordName(slo, '5m'), legend: 'errors, 5m' },
          { expr: recordName(slo, '1h'), legend: 'errors, 1h' },
          { expr: recordName(slo, '1d'), legend: 'errors, 1d' },
        ],
        panels.length,
        budget(slo),
      ),
    );
  }
  const more: [string, string, { expr: string; legend: string }[]][] = [
    ['Joins by outcome', 'reqps', [{ expr: 'sum by (outcome) (rate(participant_joins_total{service="participant"}[5m]))', legend: '{{outcome}}' }]],
    [
      'Join duration in the participant service',
      's',
      [
        { expr: 'histogram_quantile(0.5, sum by (le) (rate(participant_join_duration_seconds_bucket{service="participant"}[5m])))', legend: 'p50' },
        { expr: 'histogram_quantile(0.99, sum by (le) (rate(participant_join_duration_seconds_bucket{service="participant"}[5m])))', legend: 'p99' },
      ],
    ],
    [
      'Join to first remote frame (clients)',
      's',
      [
        { expr: 'histogram_quantile(0.5, sum by (le) (rate(gateway_client_join_to_media_seconds_bucket{service="gateway"}[5m])))', legend: 'p50' },
        { expr: 'histogram_quantile(0.95, sum by (le) (rate(gateway_client_join_to_media_seconds_bucket{service="gateway"}[5m])))', legend: 'p95' },
        {
          expr: 'histogram_quantile(0.95, sum by (le, relayed) (rate(gateway_client_join_to_media_seconds_bucket{service="gateway"}[5m])))',
          legend: 'p95 relayed={{relayed}}',
        },
      ],
    ],
    [
      'Client join failures by reason',
      'reqps',
      [{ expr: 'sum by (reason) (rate(gateway_client_join_failures_total{service="gateway"}[5m]))', legend: '{{reason}}' }],
    ],
    [
      'Signals routed and refused',
      'reqps',
      [
        { expr: 'sum by (path) (rate(gateway_ws_signals_routed_total{service="gateway"}[5m]))', legend: 'routed {{path}}' },
        { expr: 'sum by (reason) (rate(gateway_ws_signals_refused_total{service="gateway"}[5m]))', legend: 'refused {{reason}}' },
      ],
    ],
    [
      'Sockets and sessions held',
      'short',
      [
        { expr: 'sum(gateway_ws_sockets{service="gateway"})', legend: 'sockets' },
        { expr: 'sum(gateway_ws_sessions{service="gateway"})', legend: 'sessions' },
      ],
    ],
    [
      'Booking events',
      'reqps',
      [{ expr: 'sum by (type, outcome) (rate(meeting_booking_events_total{service="meeting"}[5m]))', legend: '{{type}} {{outcome}}' }],
    ],
    [
      'Booking → meeting',
      's',
      [{ expr: 'histogram_quantile(0.99, sum by (le) (rate(meeting_booking_to_meeting_seconds_bucket{service="meeting"}[5m])))', legend: 'p99' }],
    ],
    [
      'TURN credentials',
      'reqps',
      [
        { expr: 'sum(rate(turn_credentials_issued_total{service="turn"}[5m]))', legend: 'issued' },
        { expr: 'sum by (reason) (rate(participant_turn_fallbacks_total{service="participant"}[5m]))', legend: 'joins without TURN ({{reason}})' },
      ],
    ],
    [
      'REST requests by route and status',
      'reqps',
      [{ expr: 'sum by (route, status) (rate(gateway_http_request_duration_seconds_count{service="gateway"}[5m]))', legend: '{{route}} {{status}}' }],
    ],
    ['CPU by service', 'percentunit', [{ expr: 'sum by (service) (rate(process_cpu_seconds_total[5m]))', legend: '{{service}}' }]],
    ['Memory by service', 'bytes', [{ expr: 'sum by (service) (process_resident_memory_bytes)', legend: '{{service}}' }]],
  ];
  for (const [title, unit, targets] of more) panels.push(timeseries(title, unit, targets, panels.length));
  return {
    uid: 'lessoncall-overview',
    title: 'lessoncall',
    description: 'Service levels of the lessons and the figures behind them (generated from deploy/observability/slos.ts).',
    tags: ['lessoncall'],
    schemaVersion: 39,
    version: 1,
    editable: false,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' }] },
    panels,
  };
}

export const renderedRules = () => `# Generated by deploy/observability/generate.ts from slos.ts: do not edit.\n${stringify(rules(), { lineWidth: 0 })}`;
export const renderedDashboard = () => `${JSON.stringify(dashboard(), null, 2)}\n`;

/** The README's runbook section: each alert, what it means, the first three things to check. */
export function runbookMarkdown(): string {
  const lines = [
    '| service level | objective (30 days) | good events | alerts |',
    '| --- | --- | --- | --- |',
    ...slos.map(
      (slo) =>
        `| ${slo.title} | ${slo.objective * 100}% | 1 − \`${recordName(slo, '<window>')}\` | \`${burnAlertName(slo)}\`: ${burnRates.map((b) => `${b.severity} at ${b.factor}× over ${b.long} and ${b.short}`).join('; ')} |`,
    ),
    '',
  ];
  for (const slo of slos) {
    lines.push(`#### ${burnAlertName(slo)}`, '', `${slo.title}, objective ${slo.objective * 100}%. ${slo.meaning}`, '');
    lines.push(...slo.firstChecks.map((c, i) => `${i + 1}. ${c}`));
    lines.push('');
  }
  for (const t of thresholdAlerts) {
    lines.push(`#### ${t.alert}`, '', `${t.summary} (${t.severity}, for ${t.for}). ${t.meaning}`, '');
    lines.push(...t.firstChecks.map((c, i) => `${i + 1}. ${c}`));
    lines.push('');
  }
  return lines.join('\n');
}

function main(): void {
  if (process.argv.includes('--runbook')) return void console.log(runbookMarkdown());
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of [
    [rulesFile, renderedRules()],
    [dashboardFile, renderedDashboard()],
  ] as const) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {}
    if (current === text) continue;
    if (check) {
      console.error(`${file} is not what slos.ts generates: run \`pnpm --filter @lessoncall/deploy run observability:gen\``);
      stale++;
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${file}`);
    }
  }
  if (stale > 0) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
