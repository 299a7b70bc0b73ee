import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '@lessoncall/kit';
import { type Harness, repoRoot, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Backend, call, demoStudentId, startBackend, startTestGateway, type TestGateway } from './helpers';

let h: Harness;
let backend: Backend;
let gw: TestGateway;

beforeAll(async () => {
  h = await setup({ postgres: true });
  [backend, gw] = await Promise.all([startBackend(h), startTestGateway(h)]);
});

afterAll(async () => {
  await gw?.stop();
  await backend?.stop();
  await h?.cleanup();
});

const meetingId = 'MID-ABCDEFGHJKMNPQRS';
const report = async (body: unknown, token?: string) =>
  call(gw.url, 'POST', `/api/video/meetings/${meetingId}/client-report`, { token: token ?? (await gw.tokenFor(demoStudentId)), body });
const scrape = async () => (await fetch(gw.metricsUrl)).text();
/** The value of the series `name` with (at least) these labels in a Prometheus text exposition; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (m?.[1] === name && wanted.every((pair) => m[2]!.split(',').includes(pair))) return Number(m[3]);
  }
  return 0;
}

describe('client join reports', () => {
  it('count the time to the first remote frame and the failures, by reason', async () => {
    const before = await scrape();
    const media = await report({ outcome: 'media', toFirstMediaMs: 1_250, relayed: true, browser: 'firefox' });
    expect(media.status).toBe(204);
    const failed = await report({ outcome: 'failed', reason: 'relay_unreachable', code: 'ice_failed', browser: 'chromium' });
    expect(failed.status).toBe(204);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    const firefoxRelayed = { relayed: 'true', browser: 'firefox', service: 'gateway' };
    expect(delta('gateway_client_join_to_media_seconds_count', firefoxRelayed)).toBe(1);
    expect(delta('gateway_client_join_to_media_seconds_bucket', { ...firefoxRelayed, le: '1.5' })).toBe(1);
    expect(delta('gateway_client_join_to_media_seconds_bucket', { ...firefoxRelayed, le: '1' })).toBe(0);
    expect(delta('gateway_client_join_failures_total', { reason: 'relay_unreachable', browser: 'chromium', service: 'gateway' })).toBe(1);
  });

  it('refuse what is not a report, naming the field, and count nothing', async () => {
    const before = await scrape();
    const cases: [unknown, string][] = [
      [{ outcome: 'media', toFirstMediaMs: -1, relayed: false, browser: 'chromium' }, 'toFirstMediaMs'],
      [{ outcome: 'media', toFirstMediaMs: 100, relayed: false, browser: 'netscape' }, 'browser'],
      [{ outcome: 'failed', reason: 'bad luck', browser: 'chromium' }, 'reason'],
      [{ outcome: 'failed', reason: 'other', browser: 'chromium', code: 'DROP TABLE' }, 'code'],
      [{ outcome: 'failed', reason: 'other', browser: 'chromium', userId: 'someone else' }, 'userId'],
      [{ outcome: 'great' }, 'outcome'],
    ];
    for (const [body, field] of cases) {
      const res = await report(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ code: 'invalid_request', field });
    }
    expect(await scrape()).toContain('gateway_client_join_failures_total');
    const metricLines = (text: string) => text.split('\n').filter((l) => l.startsWith('gateway_client_'));
    expect(metricLines(await scrape())).toEqual(metricLines(before));
  });

  it('need a signed-in user and a meeting id', async () => {
    const anonymous = await call(gw.url, 'POST', `/api/video/meetings/${meetingId}/client-report`, {
      body: { outcome: 'failed', reason: 'other', browser: 'chromium' },
    });
    expect(anonymous.status).toBe(401);
    const service = await report({ outcome: 'failed', reason: 'other', browser: 'chromium' }, await gw.serviceToken());
    expect(service.status).toBe(403);
    const badId = await call(gw.url, 'POST', '/api/video/meetings/not-a-meeting/client-report', {
      token: await gw.tokenFor(demoStudentId),
      body: { outcome: 'failed', reason: 'other', browser: 'chromium' },
    });
    expect(badId.status).toBe(404);
  });
});

/** Metric names a PromQL expression reads: identifiers that are neither functions, keywords, label names nor durations. */
function metricNames(expr: string): string[] {
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, '') // matchers
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '') // grouping labels
    .replace(/\[[^\]]*\]/g, ''); // ranges
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = m[0];
    const before = stripped[m.index - 1] ?? ' ';
    const after = stripped.slice(m.index + name.length).trimStart();
    if (/[0-9.]/.test(before) || after.startsWith('(') || keywords.has(name.toLowerCase())) continue; // a number's exponent, a function, a keyword
    names.push(name);
  }
  return names;
}

/** Every series name the services' instruments are served as on /metrics, recorded into yet or not (histograms as _bucket, _sum and _count). */
function exported(runtimes: Runtime[]): Set<string> {
  const names = new Set<string>();
  for (const r of runtimes) {
    for (const [name, type] of r.metrics.declared()) {
      names.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
    }
  }
  return names;
}

describe('the service-level rules and the dashboard', () => {
  it('query only metrics the services export (or that the rules record)', async () => {
    const files = join(repoRoot, 'deploy/helm/lessoncall/files');
    const rules = parse(readFileSync(join(files, 'prometheus-rules.yaml'), 'utf8')) as { groups: { rules: { record?: string; expr: string }[] }[] };
    const dashboard = JSON.parse(readFileSync(join(files, 'grafana-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
    const exprs = [...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))];
    const names = exported([
      gw.gateway.runtime,
      backend.meeting.runtime,
      backend.participant.runtime,
      ...backend.signaling.map((s) => s.runtime),
      backend.turn!.runtime,
    ]);
    const queried = new Set(exprs.flatMap(metricNames));
    expect(queried.size).toBeGreaterThan(15);
    const missing = [...queried].filter((n) => !names.has(n) && !recorded.has(n));
    expect(missing, 'queried but exported by no service').toEqual([]);
    // The extractor itself: it finds what a query reads and nothing else.
    expect(metricNames('sum by (le) (rate(a_total{x="y"}[5m])) / clamp_min(b:c_rate5m, 1e-9) > 0.5')).toEqual(['a_total', 'b:c_rate5m']);
  });
});
