import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * Sends the process's Prometheus metrics (the same ones /metrics serves) to an OTLP
 * collector: counters as monotonic sums, gauges as gauges, histograms as their _count and
 * _sum. A metric family registered after start-up is picked up at the next export.
 */
export function exportMetricsOverOtlp(options: { endpoint: string; registry: Registry; resource: Resource; intervalMs?: number }): MeterProvider {
  const provider = new MeterProvider({
    resource: options.resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${options.endpoint.replace(/\/$/, '')}/v1/metrics` }),
        exportIntervalMillis: options.intervalMs ?? 15_000,
      }),
    ],
  });
  const meter = provider.getMeter('lessoncall');
  const bridged = new Set<string>();
  const discover = () => {
    for (const metric of options.registry.getMetricsAsArray()) {
      if (bridged.has(metric.name)) continue;
      bridged.add(metric.name);
      // getMetricsAsArray() returns the metric objects themselves, each with get().
      const live = metric as unknown as { get(): Promise<{ values: PromValue[] }> };
      bridge(meter, metric.name, metric.help, String(metric.type), async () => (await live.get()).values);
    }
  };
  discover();
  // Metrics registered later (services register theirs after the runtime starts).
  meter.createObservableGauge('lessoncall.metrics.bridged').addCallback((r) => {
    discover();
    r.observe(bridged.size);
  });
  return provider;
}

function bridge(meter: Meter, name: string, help: string, type: string, read: () => Promise<PromValue[]>) {
  const observe = (suffix: string | undefined) => async (r: ObservableResult) => {
    for (const v of await read()) {
      if (suffix !== undefined && v.metricName !== `${name}${suffix}`) continue;
      r.observe(v.value, v.labels as Attributes);
    }
  };
  if (type === 'counter') {
    meter.createObservableCounter(name, { description: help }).addCallback(observe(undefined));
  } else if (type === 'histogram' || type === 'summary') {
    meter.createObservableCounter(`${name}_count`, { description: help }).addCallback(observe('_count'));
    meter.createObservableCounter(`${name}_sum`, { description: help }).addCallback(observe('_sum'));
  } else {
    meter.createObservableGauge(name, { description: help }).addCallback(observe(undefined));
  }
}
