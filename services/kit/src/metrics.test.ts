import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, fromZero, type Metrics } from './metrics';

describe('metrics as /metrics serves them', () => {
  let metrics: Metrics;
  afterEach(() => metrics.shutdown());

  it('serves counters, histograms and gauges under their own names, each series labelled with the service', async () => {
    metrics = createMetrics('unit');
    const { meter } = metrics;
    meter.createCounter('unit_lessons_total', { description: 'Lessons, by kind' }).add(3, { kind: 'group' });
    const joins = meter.createHistogram('unit_join_seconds', { description: 'Joins', advice: { explicitBucketBoundaries: [0.1, 1] } });
    for (const v of [0.05, 0.5, 0.7, 3]) joins.record(v, { via: 'rest' });
    meter.createGauge('unit_node_alive', { description: 'Node up' }).record(1, { node: 'a' });
    meter.createObservableGauge('unit_sockets', { description: 'Open sockets' }).addCallback((r) => r.observe(7));
    fromZero(meter.createCounter('unit_refusals_total', { description: 'Refusals' }));

    const text = await metrics.text();
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('# TYPE unit_lessons_total counter');
    expect(text).toContain('unit_lessons_total{kind="group",service="unit"} 3\n');
    expect(text).toContain('# TYPE unit_join_seconds histogram');
    // Cumulative buckets as Prometheus has them: ≤0.1, ≤1, +Inf.
    expect(text).toContain('unit_join_seconds_bucket{via="rest",service="unit",le="0.1"} 1\n');
    expect(text).toContain('unit_join_seconds_bucket{via="rest",service="unit",le="1"} 3\n');
    expect(text).toContain('unit_join_seconds_bucket{via="rest",service="unit",le="+Inf"} 4\n');
    expect(text).toContain('unit_join_seconds_count{via="rest",service="unit"} 4\n');
    expect(text).toContain('unit_join_seconds_sum{via="rest",service="unit"} 4.25\n');
    expect(text).toContain('unit_node_alive{node="a",service="unit"} 1\n');
    expect(text).toContain('unit_sockets{service="unit"} 7\n');
    // A counter without labels is there before its first event.
    expect(text).toContain('unit_refusals_total{service="unit"} 0\n');
    // No unit suffix, no second `_total`: the names dashboards and rules query.
    expect(text).not.toMatch(/_total_total|unit_join_seconds_seconds/);
  });

  it('declares instruments nothing was recorded into yet, which /metrics leaves out', async () => {
    metrics = createMetrics('unit');
    metrics.meter.createCounter('unit_failures_total', { description: 'Failures, by reason' });
    metrics.meter.createHistogram('unit_wait_seconds', { description: 'Waits' });
    expect(await metrics.text()).not.toContain('unit_failures_total');
    expect(metrics.declared().get('unit_failures_total')).toBe('counter');
    expect(metrics.declared().get('unit_wait_seconds')).toBe('histogram');
    expect(metrics.declared().get('process_resident_memory_bytes')).toBe('gauge');
  });

  it("serves the process's own metrics under prom-client's names", async () => {
    metrics = createMetrics('unit');
    const text = await metrics.text();
    for (const name of ['process_cpu_seconds_total', 'process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
      expect(text).toMatch(new RegExp(`^${name}\\{service="unit"\\} [0-9.e+-]+$`, 'm'));
    }
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{service="unit"\} [0-9.e+-]+$/m);
  });
});
