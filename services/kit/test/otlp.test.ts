import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, withSpan } from '../src/index';
import { type Harness, setup } from '../src/testing/index';

/** A stand-in OTLP/HTTP collector: a real HTTP server that keeps what services post to it. */
async function collector() {
  const received: { path: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('telemetry over OTLP', () => {
  let h: Harness;
  let otlp: Awaited<ReturnType<typeof collector>>;
  beforeAll(async () => {
    h = await setup();
    otlp = await collector();
  });
  afterAll(async () => {
    await otlp.close();
    await h.cleanup();
  });

  it('exports traces and the metrics /metrics serves to the configured collector', async () => {
    const rt = await createRuntime('otlp-test', {
      LOG_LEVEL: 'silent',
      LOG_PRETTY: false,
      NATS_URL: h.nats.url,
      ...h.natsEnv('turn'),
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    });
    // Created after start-up, as services do.
    rt.metrics.meter.createCounter('otlp_test_lessons_total', { description: 'lessons' }).add(3, { kind: 'demo' });
    // A histogram's buckets travel too, with the boundaries the instrument was created with.
    const joins = rt.metrics.meter.createHistogram('otlp_test_join_seconds', { description: 'joins', advice: { explicitBucketBoundaries: [0.1, 1] } });
    for (const v of [0.05, 0.5, 0.7, 3]) joins.record(v, { via: 'rest' });
    await withSpan('otlp-test span', {}, async () => {});
    // Shutting down flushes both pipelines.
    await rt.close();
    const traces = otlp.received
      .filter((r) => r.path === '/v1/traces')
      .map((r) => r.body)
      .join('\n');
    const metrics = otlp.received
      .filter((r) => r.path === '/v1/metrics')
      .map((r) => r.body)
      .join('\n');
    expect(traces).toContain('otlp-test span');
    expect(traces).toContain('otlp-test');
    expect(metrics).toContain('process_cpu_user_seconds_total');
    expect(metrics).toContain('otlp_test_lessons_total');
    // OTLP/JSON: the histogram point with its bounds and per-bucket counts (≤0.1, ≤1, +Inf).
    const exported = otlp.received.filter((r) => r.path === '/v1/metrics').map((r) => JSON.parse(r.body));
    const points = exported
      .flatMap((b) => b.resourceMetrics)
      .flatMap((rm: { scopeMetrics: { metrics: { name: string; histogram?: { dataPoints: unknown[] } }[] }[] }) => rm.scopeMetrics)
      .flatMap((sm) => sm.metrics)
      .filter((m) => m.name === 'otlp_test_join_seconds')
      .flatMap((m) => m.histogram?.dataPoints ?? []) as { explicitBounds: number[]; bucketCounts: (string | number)[]; count: string | number; sum: number }[];
    expect(points.length).toBeGreaterThan(0);
    const last = points.at(-1)!;
    expect(last.explicitBounds).toEqual([0.1, 1]);
    expect(last.bucketCounts.map(Number)).toEqual([1, 2, 1]);
    expect(Number(last.count)).toBe(4);
    expect(last.sum).toBeCloseTo(4.25);
  });
});
