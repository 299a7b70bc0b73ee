import { randomUUID } from 'node:crypto';
import { SpanKind, setupTelemetry } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, call, demoStudentId, demoTutorId, startBackend, startTestGateway, type TestGateway } from './helpers';
import { WsClient } from './ws-client';

// Once per file: every in-process service and the gateway report to this exporter.
const exporter = new InMemorySpanExporter();
const telemetry = setupTelemetry('test', { exporter });

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
  await telemetry.shutdown();
});

describe('tracing', () => {
  it('runs one trace from the HTTP request through the gateway, the meeting service and its database query', async () => {
    const created = await call(gw.url, 'POST', '/api/video/meetings', {
      token: await gw.serviceToken(),
      body: {
        bookingId: `bk-${randomUUID()}`,
        tutorId: demoTutorId,
        studentId: demoStudentId,
        scheduledStart: new Date(Date.now() + 60_000).toISOString(),
        scheduledEnd: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    expect(created.status).toBe(201);
    exporter.reset();

    // The browser's own trace: the gateway continues it.
    const traceId = randomUUID().replaceAll('-', '');
    const res = await call(gw.url, 'GET', `/api/video/meetings/${created.body.meetingId}`, {
      token: await gw.tokenFor(demoTutorId),
      headers: { 'x-meeting-passcode': created.body.passcode, traceparent: `00-${traceId}-${'1'.repeat(16)}-01` },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('x-trace-id')).toBe(traceId);
    expect(res.headers.get('traceresponse')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const spans = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const find = (pred: (s: ReadableSpan) => boolean) => spans().find(pred);
    await expect.poll(() => find((s) => s.name === 'GET /api/video/meetings/:meetingId')).toBeTruthy();

    const server = find((s) => s.kind === SpanKind.SERVER && s.name === 'GET /api/video/meetings/:meetingId')!;
    expect(server.attributes['http.response.status_code']).toBe(200);
    expect(server.attributes['http.route']).toBe('/api/video/meetings/:meetingId');
    const clientSpan = find((s) => s.kind === SpanKind.CLIENT && s.name === 'request svc.meeting.get')!;
    expect(clientSpan.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    const handler = find((s) => s.kind === SpanKind.SERVER && s.name === 'handle svc.meeting.get')!;
    expect(handler.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    const query = spans().filter((s) => s.name === 'pg.query' && s.parentSpanContext?.spanId === handler.spanContext().spanId);
    expect(query.length).toBeGreaterThan(0);
    expect(String(query[0]!.attributes['db.statement'])).toMatch(/video_meetings/);
    // And the participant list it asked for next, in the same trace.
    expect(find((s) => s.name === 'handle svc.participant.list')).toBeTruthy();
  });

  it('records a failed request in the same trace with its status', async () => {
    exporter.reset();
    const res = await call(gw.url, 'GET', '/api/video/meetings/MID-AAAAAAAAAAAAAAAA', {
      token: await gw.tokenFor(demoTutorId),
      headers: { 'x-meeting-passcode': '123456' },
    });
    expect(res.status).toBe(404);
    const traceId = res.headers.get('x-trace-id')!;
    await expect
      .poll(() => exporter.getFinishedSpans().some((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.SERVER && s.name.startsWith('GET')))
      .toBe(true);
    const server = exporter.getFinishedSpans().find((s) => s.spanContext().traceId === traceId && s.name === 'GET /api/video/meetings/:meetingId')!;
    expect(server.attributes['http.response.status_code']).toBe(404);
    expect(exporter.getFinishedSpans().some((s) => s.spanContext().traceId === traceId && s.name === 'handle svc.meeting.get')).toBe(true);
  });

  it('continues the browser’s trace from a WebSocket hello through the join in the participant service', async () => {
    const m = await backend.createMeeting();
    exporter.reset();
    const traceId = randomUUID().replaceAll('-', '');
    const c = await WsClient.open(gw.wsUrl);
    try {
      await c.hello({
        accessToken: await gw.tokenFor(m.tutorId),
        meetingId: m.meetingId,
        passcode: m.passcode,
        traceparent: `00-${traceId}-${'2'.repeat(16)}-01`,
      });
      const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      await expect.poll(() => inTrace().some((s) => s.name === 'ws hello')).toBe(true);
      const hello = inTrace().find((s) => s.name === 'ws hello')!;
      expect(hello.kind).toBe(SpanKind.SERVER);
      expect(hello.parentSpanContext?.spanId).toBe('2'.repeat(16));
      const join = inTrace().find((s) => s.kind === SpanKind.CLIENT && s.name === 'request svc.participant.join');
      expect(join?.parentSpanContext?.spanId).toBe(hello.spanContext().spanId);
      expect(inTrace().some((s) => s.name === 'handle svc.participant.join')).toBe(true);
      expect(inTrace().some((s) => s.name === 'pg.query')).toBe(true);
    } finally {
      c.close();
    }
  });

  it('starts a trace of its own for a hello without a well-formed traceparent', async () => {
    const m = await backend.createMeeting();
    exporter.reset();
    const c = await WsClient.open(gw.wsUrl);
    try {
      await c.hello({ accessToken: await gw.tokenFor(m.studentId), meetingId: m.meetingId, passcode: m.passcode, traceparent: 'not-a-traceparent' });
      await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name === 'ws hello')).toBe(true);
      const hello = exporter.getFinishedSpans().find((s) => s.name === 'ws hello')!;
      expect(hello.parentSpanContext).toBeUndefined();
    } finally {
      c.close();
    }
  });
});
