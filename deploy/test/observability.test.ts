import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dashboard, dashboardFile, renderedDashboard, renderedRules, rules, rulesFile, runbookMarkdown } from '../observability/generate';
import { promtoolTests } from '../observability/promtool-tests';
import { render, rendered } from './support/render';

const dir = mkdtempSync(join(tmpdir(), 'lessoncall-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function promtool(args: string[]): string {
  try {
    return execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${[e.stdout, e.stderr].filter(Boolean).join('\n') || e.message}`);
  }
}

describe('service-level rules and dashboard', () => {
  it('are what deploy/observability/slos.ts generates (regenerate with npm run observability:gen)', () => {
    expect(readFileSync(rulesFile, 'utf8')).toBe(renderedRules());
    expect(readFileSync(dashboardFile, 'utf8')).toBe(renderedDashboard());
  });

  it('have their runbook in the README (npm run observability:gen -- --runbook)', () => {
    expect(readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8')).toContain(runbookMarkdown());
  });

  it('pass promtool check rules', () => {
    expect(promtool(['check', 'rules', rulesFile])).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('fire on burning budgets and stay quiet on healthy ones (promtool test rules)', () => {
    const file = join(dir, 'tests.yaml');
    writeFileSync(file, stringify(promtoolTests(rulesFile), { lineWidth: 0 }));
    expect(promtool(['test', 'rules', file])).toMatch(/SUCCESS/);
  });

  it('a dashboard whose panels each query something', () => {
    const d = dashboard();
    expect(d.panels.length).toBeGreaterThan(10);
    for (const p of d.panels)
      expect(
        (p.targets as { expr: string }[]).every((t) => t.expr.length > 0),
        String(p.title),
      ).toBe(true);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
  });
});

describe('the chart', () => {
  it('renders neither by default', () => {
    const kinds = rendered('default').map((m) => `${m.kind}/${m.metadata.name}`);
    expect(kinds.some((k) => k.startsWith('PrometheusRule/'))).toBe(false);
    expect(kinds.some((k) => k.endsWith('-dashboard'))).toBe(false);
  });

  it('renders the PrometheusRule and the dashboard ConfigMap when enabled, with the generated content', () => {
    const manifests = render({
      set: {
        'telemetry.metrics.prometheusRule.enabled': true,
        'telemetry.metrics.prometheusRule.labels.release': 'kube-prometheus-stack',
        'telemetry.metrics.grafanaDashboard.enabled': true,
      },
    });
    const rule = manifests.find((m) => m.kind === 'PrometheusRule');
    expect(rule?.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(rule?.spec).toEqual(rules());
    const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.endsWith('-dashboard'));
    expect(cm?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(cm?.data['lessoncall.json'])).toEqual(dashboard());
  });
});
