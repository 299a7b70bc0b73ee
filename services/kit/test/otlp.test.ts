import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, Counter, withSpan } from '../src/index';
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

  it('exports traces and the Prometheus metrics to the configured collector', async () => {
    const rt = await createRuntime('otlp-test', {
      LOG_LEVEL: 'silent',
      LOG_PRETTY: false,
      NATS_URL: h.nats.url,
      ...h.natsEnv('turn'),
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    });
    // Registered after start-up, as services do.
    const lessons = new Counter({ name: 'otlp_test_lessons_total', help: 'lessons', labelNames: ['kind'], registers: [rt.registry] });
    lessons.inc({ kind: 'demo' }, 3);
    await withSpan('otlp-test span', {}, async () => {});
    // Shutting down flushes both pipelines (a second export picks up the late counter).
    await new Promise((r) => setTimeout(r, 50));
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
  });
});
