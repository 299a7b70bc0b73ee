import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  type DataPoint,
  DataPointType,
  type Histogram,
  type MetricData,
  type MetricProducer,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

/** One prom-client family as prom-client itself reports it (`registry.getMetricsAsJSON()`); a histogram's values name their series. */
type Family = MetricObjectWithValues<MetricValue<string> & { metricName?: string }>;

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
const attributesOf = (labels: Record<string, string | number | undefined>): Attributes =>
  Object.fromEntries(Object.entries(labels).filter((e): e is [string, string | number] => e[1] !== undefined));
const keyOf = (labels: Record<string, unknown>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

/**
 * prom-client's histogram (cumulative `_bucket{le}` series, `_sum`, `_count`) as OpenTelemetry
 * histogram points: per-bucket counts over the finite boundaries, the +Inf bucket last.
 */
export function histogramPoints(family: Family, start: HrTime, end: HrTime): DataPoint<Histogram>[] {
  const series = new Map<string, { attributes: Attributes; le: Map<number, number>; sum: number; count: number }>();
  for (const v of family.values) {
    const { le, ...rest } = v.labels as Record<string, string | number | undefined>;
    const key = keyOf(rest);
    let s = series.get(key);
    if (!s) {
      s = { attributes: attributesOf(rest), le: new Map(), sum: 0, count: 0 };
      series.set(key, s);
    }
    if (v.metricName === `${family.name}_bucket` && le !== undefined) s.le.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v.value);
    else if (v.metricName === `${family.name}_sum`) s.sum = v.value;
    else if (v.metricName === `${family.name}_count`) s.count = v.value;
  }
  return [...series.values()].map((s) => {
    const bounds = [...s.le.keys()].filter(Number.isFinite).sort((a, b) => a - b);
    let below = 0;
    const counts = bounds.map((b) => {
      const cumulative = s.le.get(b) ?? below;
      const n = cumulative - below;
      below = cumulative;
      return n;
    });
    counts.push(s.count - below);
    return { startTime: start, endTime: end, attributes: s.attributes, value: { buckets: { boundaries: bounds, counts }, sum: s.sum, count: s.count } };
  });
}

/** One family as OpenTelemetry metric data: counters as monotonic sums, gauges as gauges, histograms with their buckets. */
export function toMetricData(family: Family, start: HrTime, end: HrTime): MetricData[] {
  const descriptor = { name: family.name, description: family.help, unit: '', valueType: ValueType.DOUBLE };
  const points = (values: Family['values']): DataPoint<number>[] =>
    values.map((v) => ({ startTime: start, endTime: end, attributes: attributesOf(v.labels), value: v.value }));
  switch (String(family.type)) {
    case 'counter':
      return [
        {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: points(family.values),
        },
      ];
    case 'histogram':
      return [
        {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: histogramPoints(family, start, end),
        },
      ];
    case 'summary':
      // OTLP has no quantile summary the SDK can send: its count and sum, as Prometheus exposes them.
      return (['_sum', '_count'] as const).map((suffix) => ({
        descriptor: { ...descriptor, name: `${family.name}${suffix}` },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: points(family.values.filter((v) => v.metricName === `${family.name}${suffix}`)),
      }));
    default:
      return [{ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: points(family.values) }];
  }
}

/**
 * The SDK's own extension point for metrics kept elsewhere: at every export the reader asks
 * this producer, which reads the registry that /metrics serves — every family registered by
 * then, histograms with all their buckets. One set of instruments (prom-client), two ways out.
 */
export class PromClientProducer implements MetricProducer {
  readonly #started = hr(performance.timeOrigin);

  constructor(
    private readonly registry: Registry,
    private readonly resource: Resource,
  ) {}

  async collect(): Promise<CollectionResult> {
    const end = hr(Date.now());
    const families = (await this.registry.getMetricsAsJSON()) as Family[];
    return {
      resourceMetrics: {
        resource: this.resource,
        scopeMetrics: [{ scope: { name: 'lessoncall' }, metrics: families.flatMap((f) => toMetricData(f, this.#started, end)) }],
      },
      errors: [],
    };
  }
}

/** Sends the process's Prometheus metrics (the same ones /metrics serves) to an OTLP collector. */
export function exportMetricsOverOtlp(options: { endpoint: string; registry: Registry; resource: Resource; intervalMs?: number }): MeterProvider {
  return new MeterProvider({
    resource: options.resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${options.endpoint.replace(/\/$/, '')}/v1/metrics` }),
        exportIntervalMillis: options.intervalMs ?? 15_000,
        metricProducers: [new PromClientProducer(options.registry, options.resource)],
      }),
    ],
  });
}
