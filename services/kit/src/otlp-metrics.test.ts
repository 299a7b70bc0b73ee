import { Registry } from 'prom-client';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { Counter, Histogram } from './metrics';
import { toMetricData } from './otlp-metrics';

const t = [0, 0] as [number, number];

describe('prom-client families as OpenTelemetry metric data', () => {
  it('turns cumulative histogram buckets into per-bucket counts, one point per label set', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['kind'], buckets: [1, 5], registers: [registry] });
    for (const v of [0.5, 2, 2, 9]) h.observe({ kind: 'a' }, v);
    h.observe({ kind: 'b' }, 4);
    const [family] = await registry.getMetricsAsJSON();
    const [data] = toMetricData(family as never, t, t);
    expect(data?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const points = Object.fromEntries((data?.dataPoints ?? []).map((p) => [String(p.attributes.kind), p.value]));
    expect(points.a).toEqual({ buckets: { boundaries: [1, 5], counts: [1, 2, 1] }, sum: 13.5, count: 4 });
    expect(points.b).toEqual({ buckets: { boundaries: [1, 5], counts: [0, 1, 0] }, sum: 4, count: 1 });
  });

  it('sends counters as monotonic sums with their labels', async () => {
    const registry = new Registry();
    new Counter({ name: 'c_total', help: 'c', labelNames: ['code'], registers: [registry] }).inc({ code: 'x' }, 2);
    const [family] = await registry.getMetricsAsJSON();
    const [data] = toMetricData(family as never, t, t);
    expect(data).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: [{ attributes: { code: 'x' }, value: 2 }] });
  });
});
