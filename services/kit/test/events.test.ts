import { BookingConfirmedSchema, streams, subjects } from '@lessoncall/proto';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeEvents, createLogger, decode, ensureConsumer, ensureStream, publishEvent, setupTelemetry, withSpan, jetstream } from '../src/index';
import { type Harness, setup } from '../src/testing/index';
import { booking } from './fixtures';

const exporter = new InMemorySpanExporter();
setupTelemetry('kit-test', { exporter });
const logger = createLogger('kit-test', { level: 'silent' });

describe('events on JetStream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
    await ensureStream(h.jsm, streams.bookings);
    // Idempotent: a second provisioning (another replica) changes nothing and does not throw.
    await ensureStream(h.jsm, streams.bookings);
    await ensureConsumer(h.jsm, { stream: 'BOOKINGS', durable: 'kit-test' });
    await ensureConsumer(h.jsm, { stream: 'BOOKINGS', durable: 'kit-test' });
  });
  afterAll(() => h.cleanup());

  it('carries the trace id to the consumer, drops a duplicate ce-id, parks a malformed event', async () => {
    const seen: { bookingId: string; traceId: string | undefined; type: string }[] = [];
    const consumer = await consumeEvents({
      nc: h.nc,
      js: h.js,
      stream: 'BOOKINGS',
      durable: 'kit-test',
      logger,
      schemaFor: (s) => (s === subjects.bookingConfirmed ? BookingConfirmedSchema : undefined),
      handle: async (e) => {
        seen.push({
          bookingId: (e.body as ReturnType<typeof booking>).bookingId,
          traceId: trace.getActiveSpan()?.spanContext().traceId,
          type: e.meta.type,
        });
      },
    });
    const dead = h.nc.subscribe('deadletter.>', { max: 1 });

    let publishedTraceId = '';
    await withSpan('test publish', {}, async (span) => {
      publishedTraceId = span.spanContext().traceId;
      await publishEvent(h.js, subjects.bookingConfirmed, BookingConfirmedSchema, booking('b-1'), { id: 'evt-1', source: 'test' });
      // The same event again, as a booking system retrying would: dropped by JetStream.
      await publishEvent(h.js, subjects.bookingConfirmed, BookingConfirmedSchema, booking('b-1'), { id: 'evt-1', source: 'test' });
    });
    // Malformed: not JSON of the schema, valid CloudEvents headers otherwise.
    const { cloudEventHeaders } = await import('../src/cloudevents');
    await h.js.publish(subjects.bookingConfirmed, new TextEncoder().encode('{"bookingId": 42, "nope": true}'), {
      headers: cloudEventHeaders(subjects.bookingConfirmed, 'test', { id: 'evt-bad' }),
      msgID: 'evt-bad',
    });
    await publishEvent(h.js, subjects.bookingConfirmed, BookingConfirmedSchema, booking('b-2'), { id: 'evt-2', source: 'test' });

    const deadIter = dead[Symbol.asyncIterator]();
    const parked = await deadIter.next();
    await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(2);
    await consumer.stop();

    expect(seen.map((s) => s.bookingId)).toEqual(['b-1', 'b-2']);
    expect(seen[0]?.type).toBe('booking.confirmed');
    expect(seen[0]?.traceId).toBe(publishedTraceId);
    const info = await h.jsm.streams.info('BOOKINGS');
    expect(info.state.messages).toBe(3); // b-1 once, the malformed one, b-2
    const { DeadLetterSchema } = await import('@lessoncall/proto');
    const letter = decode(DeadLetterSchema, parked.value!.data);
    expect(letter.subject).toBe('booking.confirmed');
    expect(letter.reason).toMatch(/BookingConfirmed/);
    expect(exporter.getFinishedSpans().some((s) => s.name === 'consume booking.confirmed' && s.spanContext().traceId === publishedTraceId)).toBe(true);
  });

  it('a consumer whose connection closes under it stops quietly; its messages go to the next consumer', async () => {
    // The meeting service's role: it is the one that consumes BOOKINGS.
    const nc2 = await h.connectAs('meeting');
    const handled: string[] = [];
    const schemaFor = (s: string) => (s === subjects.bookingConfirmed ? BookingConfirmedSchema : undefined);
    const first = await consumeEvents({
      nc: nc2,
      js: jetstream(nc2),
      stream: 'BOOKINGS',
      durable: 'kit-test',
      logger,
      schemaFor,
      handle: async () => {
        throw new Error('never finishes');
      },
    });
    await publishEvent(h.js, subjects.bookingConfirmed, BookingConfirmedSchema, booking('b-3'), { id: 'evt-3', source: 'test' });
    await new Promise((r) => setTimeout(r, 200));
    await nc2.close();
    await expect(first.done).resolves.toBeUndefined();
    const second = await consumeEvents({
      nc: h.nc,
      js: h.js,
      stream: 'BOOKINGS',
      durable: 'kit-test',
      logger,
      schemaFor,
      handle: async (e) => {
        handled.push((e.body as ReturnType<typeof booking>).bookingId);
      },
    });
    await expect.poll(() => handled, { timeout: 10_000 }).toContain('b-3');
    await second.stop();
  });
});
