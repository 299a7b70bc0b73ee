import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BatchObservableCallback, Counter, Meter, Observable } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export type { Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';

/** The process's metrics: one OpenTelemetry MeterProvider, read as Prometheus text on /metrics and, when configured, pushed over OTLP. */
export interface Metrics {
  /** Where every instrument is created (`meter.createCounter`, `createHistogram` with `advice.explicitBucketBoundaries`, …). */
  readonly meter: Meter;
  /** The Content-Type of `text()`. */
  readonly contentType: string;
  /** Every instrument recorded into so far as Prometheus text, what /metrics answers (and what tests read). */
  text(): Promise<string>;
  /**
   * Every instrument created, recorded into or not, with the Prometheus type it is served as:
   * an instrument shows on /metrics only once it has a value (OpenTelemetry exports no empty
   * series), but a dashboard may rightly query it before.
   */
  declared(): ReadonlyMap<string, PrometheusType>;
  /** Exports what is left over OTLP, then stops the readers. */
  shutdown(): Promise<void>;
}

export interface MetricsOptions {
  /** OTLP/HTTP endpoint, e.g. http://collector:4318: without it metrics are only served on /metrics. */
  otlpEndpoint?: string | undefined;
  otlpIntervalMs?: number;
}

export type PrometheusType = 'counter' | 'gauge' | 'histogram';

/** Prometheus text exposition format 0.0.4, what prom-client served and scrapers ask for. */
const contentType = 'text/plain; version=0.0.4; charset=utf-8';

export function createMetrics(service: string, options: MetricsOptions = {}): Metrics {
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: service });
  // Pull only: the health server serves its text, the exporter opens no port of its own.
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: MetricReader[] = [prometheus];
  if (options.otlpEndpoint) {
    const exporter = new OTLPMetricExporter({ url: `${options.otlpEndpoint.replace(/\/$/, '')}/v1/metrics` });
    readers.push(new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: options.otlpIntervalMs ?? 15_000 }));
  }
  const provider = new MeterProvider({ resource, readers });
  const declared = new Map<string, PrometheusType>();
  const meter = noting(provider.getMeter('lessoncall'), declared);
  const stopRuntime = observeRuntime(meter);
  // Dashboards and rules select every series by a `service` label: it rides on each series of
  // the Prometheus text as a constant label (OTLP carries service.name on the resource instead).
  const serializer = new PrometheusSerializer('', false, /^service$/);
  const labelled = resource.merge(resourceFromAttributes({ service }));
  return {
    meter,
    contentType,
    declared: () => declared,
    async text() {
      const { resourceMetrics } = await prometheus.collect();
      return serializer.serialize({ ...resourceMetrics, resource: labelled });
    },
    async shutdown() {
      // The last OTLP export still reads the runtime's gauges.
      await provider.shutdown();
      stopRuntime();
    },
  };
}

const createdAs: Record<string, PrometheusType> = {
  createCounter: 'counter',
  createObservableCounter: 'counter',
  createHistogram: 'histogram',
  createGauge: 'gauge',
  createObservableGauge: 'gauge',
  createUpDownCounter: 'gauge',
  createObservableUpDownCounter: 'gauge',
};

/** The meter, noting the name and type of every instrument created through it. */
function noting(meter: Meter, declared: Map<string, PrometheusType>): Meter {
  return new Proxy(meter, {
    get(target, key, receiver) {
      const member = Reflect.get(target, key, receiver);
      const type = typeof key === 'string' ? createdAs[key] : undefined;
      if (!type || typeof member !== 'function') return member;
      return (name: string, ...rest: unknown[]) => {
        declared.set(name, type);
        return member.call(target, name, ...rest);
      };
    },
  });
}

/**
 * A counter without labels is a series from the start, at 0, as prom-client had it: a rate
 * over a series that first appears at 1 misses that first event.
 */
export function fromZero<C extends Counter>(counter: C): C {
  counter.add(0);
  return counter;
}

/**
 * The process's own metrics under the names prom-client's default metrics had (dashboards
 * read process_cpu_seconds_total and process_resident_memory_bytes): CPU, memory, heap and
 * event-loop delay.
 */
function observeRuntime(meter: Meter): () => void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const counter = (name: string, description: string) => meter.createObservableCounter(name, { description });
  const gauge = (name: string, description: string) => meter.createObservableGauge(name, { description });
  const cpuUser = counter('process_cpu_user_seconds_total', 'User CPU time spent in seconds');
  const cpuSystem = counter('process_cpu_system_seconds_total', 'System CPU time spent in seconds');
  const cpu = counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds');
  const started = gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds');
  const rss = gauge('process_resident_memory_bytes', 'Resident memory size in bytes');
  const heapUsed = gauge('nodejs_heap_size_used_bytes', 'Process heap size used in bytes');
  const heapTotal = gauge('nodejs_heap_size_total_bytes', 'Process heap size in bytes');
  const external = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes');
  const delayMean = gauge('nodejs_eventloop_lag_mean_seconds', 'Mean event loop delay since the last collection, in seconds');
  const delayP99 = gauge('nodejs_eventloop_lag_p99_seconds', '99th percentile of the event loop delay since the last collection, in seconds');
  const delayMax = gauge('nodejs_eventloop_lag_max_seconds', 'Largest event loop delay since the last collection, in seconds');
  const observables: Observable[] = [cpuUser, cpuSystem, cpu, started, rss, heapUsed, heapTotal, external, delayMean, delayP99, delayMax];
  const startSeconds = Math.round(performance.timeOrigin / 1000);
  const observe: BatchObservableCallback = (r) => {
    const { user, system } = process.cpuUsage();
    const memory = process.memoryUsage();
    r.observe(cpuUser, user / 1e6);
    r.observe(cpuSystem, system / 1e6);
    r.observe(cpu, (user + system) / 1e6);
    r.observe(started, startSeconds);
    r.observe(rss, memory.rss);
    r.observe(heapUsed, memory.heapUsed);
    r.observe(heapTotal, memory.heapTotal);
    r.observe(external, memory.external);
    // No sample yet (a collection right after the previous one) reads as no delay, not NaN.
    const sampled = delay.count > 0;
    r.observe(delayMean, sampled ? delay.mean / 1e9 : 0);
    r.observe(delayP99, sampled ? delay.percentile(99) / 1e9 : 0);
    r.observe(delayMax, sampled ? delay.max / 1e9 : 0);
    delay.reset();
  };
  meter.addBatchObservableCallback(observe, observables);
  return () => {
    meter.removeBatchObservableCallback(observe, observables);
    delay.disable();
  };
}
