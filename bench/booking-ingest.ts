/**
 * booking.confirmed → meeting.created: sustained events/s and latency, lost and doubled.
 *
 *   pnpm exec tsx bench/booking-ingest.ts      (RATE=2000 DURATION_S=10 ROUNDS=3 WARMUP_S=5 DUPLICATES=0.05)
 *
 * Harness NATS + Postgres; the meeting service runs as its own process (`node --import tsx
 * services/meeting/src/main.ts`, as in production), this process plays the booking system. An
 * open-loop publisher offers RATE bookings/s for DURATION_S seconds, each a CloudEvent on
 * JetStream exactly as an external booking system would send it; a DUPLICATES share is
 * published a second time under a new ce-id (what a retrying booking system does), which only
 * the database's unique booking id can absorb. Latency runs from just before the publish to the
 * arrival of its meeting.created on a core subscription. Lost = bookings without a meeting;
 * doubled = meetings or meeting.created events beyond one per booking (in Postgres and in the
 * MEETINGS stream). ROUNDS measurements run against the same service after a warm-up round at the same rate
 * (WARMUP_S), because this machine is shared and one round can be disturbed; the headline is the
 * median of each figure over the rounds.
 *
 * The anchor, in the same run with rounds alternating: the same events through the bus alone
 * (bench/lib/jetstream-echo.ts: the kit consumer acking each booking and publishing its
 * meeting.created with kit's publishEvent, on a nats-server of its own). The ratio to it is
 * what the meeting service and Postgres add to what JetStream costs anyway on this machine,
 * which stays meaningful when the machine is loaded and both get slower together.
 * Writes bench/results/booking-ingest.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  cloudEventHeaders,
  connectNats,
  createLogger,
  Db,
  encode,
  type JetStreamClient,
  type JetStreamManager,
  type MsgHdrs,
  type NatsConnection,
  jetstream,
  jetstreamManager,
} from '@lessoncall/kit';
import { freePort, repoRoot, startNats, startPostgres } from '@lessoncall/kit/testing';
import { bookingConfirmed } from '@lessoncall/booking-system';
import { BookingConfirmedSchema, subjects } from '@lessoncall/proto';
import { cpuMeter, cpuSeconds, type Measured, natsPid, postgresCpuSeconds, startProcess, waitReady } from './lib/processes';
import { idleMeter, medianOfRounds, type Round, ratio } from './lib/rounds';
import { round, sleep, summarize } from './lib/stats';

const rate = Number(process.env.RATE ?? 2_000);
const durationS = Number(process.env.DURATION_S ?? 10);
const rounds = Number(process.env.ROUNDS ?? 3);
const duplicates = Number(process.env.DUPLICATES ?? 0.05);
const warmupS = Number(process.env.WARMUP_S ?? 5);
const drainTimeoutMs = 30_000;
const tutorId = '11111111-1111-4111-8111-111111111111';
const studentId = '22222222-2222-4222-8222-222222222222';

interface Prepared {
  bookingId: string;
  data: Uint8Array;
  headers: MsgHdrs;
  msgID: string;
  duplicate?: { headers: MsgHdrs; msgID: string };
}

/** Encoded up front, so that the publisher's own CPU does not shape the offered rate. */
function prepare(prefix: string, n: number, duplicateShare: number): Prepared[] {
  const scheduledStart = new Date(Date.now() + 86_400_000);
  const scheduledEnd = new Date(scheduledStart.getTime() + 3_600_000);
  return Array.from({ length: n }, (_, i) => {
    const bookingId = `${prefix}-${i}`;
    const data = encode(BookingConfirmedSchema, bookingConfirmed({ bookingId, tutorId, studentId, scheduledStart, scheduledEnd, title: 'Benchmark lesson' }));
    const id = randomUUID();
    const p: Prepared = { bookingId, data, headers: cloudEventHeaders(subjects.bookingConfirmed, '/booking-system', { id }), msgID: id };
    if (Math.random() < duplicateShare) {
      const again = randomUUID();
      p.duplicate = { headers: cloudEventHeaders(subjects.bookingConfirmed, '/booking-system', { id: again }), msgID: again };
    }
    return p;
  });
}

const anchorDurable = 'anchor-bookings';

/** One system the same bookings go through: the meeting service, or the bus alone (the anchor). */
interface Target {
  name: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  durable: string;
  cpu: Measured[];
  /** Meetings in Postgres for the round's bookings (the meeting service only). */
  rows?: (prefix: string) => Promise<{ meetings: number; bookings: number }>;
  sentAt: Map<string, number>;
  arrivals: Map<string, { at: number; eventId: string }>;
  republishedOnWire: number;
  doubledOnWire: number;
  publishErrors: number;
}

const logger = createLogger('bench', { level: 'warn' });
const decoder = new TextDecoder();

async function target(name: string, url: string, durable: string, cpu: Measured[], rows?: Target['rows']): Promise<Target> {
  const nc = await connectNats({ url, name: `booking-ingest-bench ${name}`, logger });
  const t: Target = {
    name,
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    durable,
    cpu,
    rows,
    sentAt: new Map(),
    arrivals: new Map(),
    republishedOnWire: 0,
    doubledOnWire: 0,
    publishErrors: 0,
  };
  nc.subscribe('meeting.created.>', {
    callback: (_, m) => {
      const now = performance.now();
      const bookingId = (JSON.parse(decoder.decode(m.data)) as { meeting: { bookingId: string } }).meeting.bookingId;
      if (!t.sentAt.has(bookingId)) return; // not one of ours
      const eventId = m.headers?.get('ce-id') ?? '';
      const earlier = t.arrivals.get(bookingId);
      if (earlier === undefined) t.arrivals.set(bookingId, { at: now, eventId });
      // The same event id again is dropped by JetStream: the stream's consumers see it once.
      else if (earlier.eventId === eventId) t.republishedOnWire++;
      else t.doubledOnWire++;
    },
  });
  await nc.flush();
  return t;
}

const publish = (t: Target, p: Prepared, copy?: Prepared['duplicate']) =>
  t.js.publish(subjects.bookingConfirmed, p.data, { headers: copy?.headers ?? p.headers, msgID: copy?.msgID ?? p.msgID }).catch(() => {
    t.publishErrors++;
  });

async function drained(t: Target): Promise<void> {
  const deadline = Date.now() + drainTimeoutMs;
  for (;;) {
    const c = await t.jsm.consumers.info('BOOKINGS', t.durable);
    if (c.num_pending + c.num_ack_pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${t.name} did not drain its backlog`);
    await sleep(100);
  }
}

async function consumerReady(t: Target): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await t.jsm.consumers.info('BOOKINGS', t.durable);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${t.name}: consumer ${t.durable} never appeared`);
      await sleep(100);
    }
  }
}

async function measure(t: Target, seconds = durationS) {
  const total = Math.round(rate * seconds);
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const bookings = prepare(prefix, total, duplicates);
  const before = { republished: t.republishedOnWire, doubled: t.doubledOnWire, errors: t.publishErrors };
  const meter = cpuMeter(t.cpu);
  const inflight: Promise<unknown>[] = [];
  const t0 = performance.now();
  let sent = 0;
  let maxLagMs = 0;
  // Open loop: every tick sends what the schedule says is due, whether or not answers came back.
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    maxLagMs = Math.max(maxLagMs, ((due - sent) / rate) * 1000);
    for (; sent < due; sent++) {
      const p = bookings[sent] as Prepared;
      t.sentAt.set(p.bookingId, performance.now());
      inflight.push(publish(t, p));
      if (p.duplicate) inflight.push(publish(t, p, p.duplicate));
    }
    await sleep(2);
  }
  const publishSeconds = (performance.now() - t0) / 1000;
  await Promise.all(inflight);
  const arrivedOf = () => bookings.filter((b) => t.arrivals.has(b.bookingId)).length;
  const deadline = Date.now() + drainTimeoutMs;
  while (arrivedOf() < total && Date.now() < deadline) await sleep(50);
  const cpu = meter();
  // Every booking was consumed and acked once the consumer has nothing pending: a double would have been published by then.
  await drained(t);
  await t.nc.flush();

  const latencies: number[] = [];
  let lastArrival = t0;
  for (const b of bookings) {
    const a = t.arrivals.get(b.bookingId);
    if (!a) continue;
    latencies.push(a.at - (t.sentAt.get(b.bookingId) as number));
    lastArrival = Math.max(lastArrival, a.at);
  }
  const rows = t.rows ? await t.rows(prefix) : undefined;
  const createdInStream = await (async () => {
    const subjectsOf = (await t.jsm.streams.info('MEETINGS', { subjects_filter: 'meeting.created.>' })).state.subjects ?? {};
    return Object.values(subjectsOf).reduce((a, b) => a + b, 0);
  })();
  return {
    publishSeconds: round(publishSeconds, 3),
    maxPublisherLagMs: round(maxLagMs, 1),
    bookings: total,
    duplicatesPublished: bookings.filter((b) => b.duplicate).length,
    sustainedEventsPerS: round(latencies.length / ((lastArrival - t0) / 1000), 1),
    latencyMs: summarize(latencies),
    lost: total - latencies.length,
    meetingsInPostgres: rows?.meetings,
    doubledInPostgres: rows ? rows.meetings - rows.bookings : undefined,
    doubledOnWire: t.doubledOnWire - before.doubled,
    /** The same meeting.created (same ce-id) published again while the first was in flight; JetStream kept one. */
    republishedSameEventId: t.republishedOnWire - before.republished,
    publishErrors: t.publishErrors - before.errors,
    meetingCreatedInStreamSoFar: createdInStream,
    cpu,
  };
}

type Measured1 = Round<Awaited<ReturnType<typeof measure>>>;

// Without authorization: the bench publishes and observes as it pleases; figures comparable with earlier runs.
const [nats, anchorNats, postgres] = await Promise.all([startNats({ auth: false }), startNats({ auth: false }), startPostgres()]);
const healthPort = await freePort();
const meeting = startProcess('meeting', 'services/meeting/src/main.ts', {
  NATS_URL: nats.url,
  DATABASE_URL: postgres.url,
  HEALTH_PORT: String(healthPort),
  PUBLIC_BASE_URL: 'https://lessons.example.com',
  ...(process.env.BOOKING_BATCH_SIZE ? { BOOKING_BATCH_SIZE: process.env.BOOKING_BATCH_SIZE } : {}),
  ...(process.env.DATABASE_POOL_SIZE ? { DATABASE_POOL_SIZE: process.env.DATABASE_POOL_SIZE } : {}),
  ...(process.env.BOOKING_INSERT_CONCURRENCY ? { BOOKING_INSERT_CONCURRENCY: process.env.BOOKING_INSERT_CONCURRENCY } : {}),
});
// The anchor on its own nats-server, so the two never share a stream or a consumer.
const echo = startProcess('jetstream-echo', 'bench/lib/jetstream-echo.ts', {
  NATS_URL: anchorNats.url,
  DURABLE: anchorDurable,
  BATCH: process.env.BOOKING_BATCH_SIZE ?? '512',
});
const db = new Db({ url: postgres.url, max: 1 });
const natsCpu = (port: number): Measured => ({ name: 'nats-server', cpuSeconds: () => cpuSeconds(natsPid(port) ?? 0) });
const targets: Target[] = [];

try {
  await waitReady(`http://127.0.0.1:${healthPort}/readyz`, meeting);
  const service = await target(
    'meeting service',
    nats.url,
    'meeting-bookings',
    [{ name: 'meeting', pid: meeting.pid }, natsCpu(nats.port), { name: 'postgres', cpuSeconds: () => postgresCpuSeconds(postgres.port) }],
    async (prefix) => {
      const { rows } = await db.pool.query<{ meetings: number; bookings: number }>(
        'select count(*)::int as meetings, count(distinct booking_id)::int as bookings from video_meetings where booking_id like $1',
        [`${prefix}-%`],
      );
      return rows[0] ?? { meetings: 0, bookings: 0 };
    },
  );
  targets.push(service);
  const anchor = await target('JetStream alone (anchor)', anchorNats.url, anchorDurable, [{ name: 'jetstream-echo', pid: echo.pid }, natsCpu(anchorNats.port)]);
  targets.push(anchor);
  await consumerReady(anchor);

  // Warm-up at the offered rate (JIT, connection pool, consumer, table statistics): not recorded.
  let warmMeetings = 0;
  for (const t of targets) {
    const warm = await measure(t, warmupS);
    warmMeetings += t === service ? (warm.meetingsInPostgres ?? 0) : 0;
    console.log(`warm-up ${t.name}: ${warm.sustainedEventsPerS} meetings/s, p99 ${warm.latencyMs.p99} ms (not recorded)`);
  }

  // Rounds take turns between the service and the anchor, so both meet the same machine.
  const results = new Map<Target, Measured1[]>(targets.map((t) => [t, []]));
  for (let n = 1; n <= rounds; n++) {
    for (const t of targets) {
      const idle = idleMeter();
      const r: Measured1 = { ...(await measure(t)), round: n, ...idle() };
      results.get(t)?.push(r);
      const l = r.latencyMs;
      console.log(
        `  round ${n}/${rounds} ${t.name}: ${r.sustainedEventsPerS} meetings/s, p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, lost ${r.lost}, ` +
          `doubled ${(r.doubledInPostgres ?? 0) + r.doubledOnWire} (machine idle ${Math.round(r.idleShare * 100)}%)`,
      );
    }
  }
  const ours = results.get(service) ?? [];
  const bus = results.get(anchor) ?? [];
  // meeting.created in the stream must be exactly one per meeting of every round and the warm-up.
  const streamTotal = ours.at(-1)?.meetingCreatedInStreamSoFar ?? 0;
  const doubledInStream = streamTotal - warmMeetings - ours.reduce((n, r) => n + (r.meetingsInPostgres ?? 0), 0);
  const figures = { eventsPerS: (r: Measured1) => r.sustainedEventsPerS, p50Ms: (r: Measured1) => r.latencyMs.p50, p99Ms: (r: Measured1) => r.latencyMs.p99 };
  const headline = { service: medianOfRounds(ours, figures), anchor: medianOfRounds(bus, figures) };
  const summary = {
    offeredRatePerS: rate,
    /** The median over the rounds of each figure (never the best round). */
    median: headline.service.median,
    range: headline.service.range,
    idleShare: headline.service.idleShare,
    lost: ours.reduce((n, r) => n + r.lost, 0),
    doubled: ours.reduce((n, r) => n + (r.doubledInPostgres ?? 0) + r.doubledOnWire, 0) + doubledInStream,
    anchor: { median: headline.anchor.median, range: headline.anchor.range, lost: bus.reduce((n, r) => n + r.lost, 0) },
    ratioToAnchor: {
      eventsPerS: ratio(headline.service.median.eventsPerS, headline.anchor.median.eventsPerS),
      p50: ratio(headline.service.median.p50Ms, headline.anchor.median.p50Ms),
      p99: ratio(headline.service.median.p99Ms, headline.anchor.median.p99Ms),
    },
    target: { eventsPerS: 2_000, p99Ms: 100, lost: 0, doubled: 0 },
  };
  const result = {
    benchmark: 'booking-ingest',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version },
    setup: {
      service:
        'meeting service as its own process (node --import tsx services/meeting/src/main.ts, default config); publisher and collector in the bench process',
      anchor:
        'the bus alone, same run, rounds alternating: the same CloudEvents published to BOOKINGS on a second nats-server, consumed by the kit consumer (same batch, explicit ack) in a process of its own that publishes meeting.created to MEETINGS with kit publishEvent — all the meeting service does on the bus, without Postgres and its logic',
      offeredRatePerS: rate,
      durationS,
      rounds,
      duplicateShare: duplicates,
      idleShare: "the machine's idle CPU during each round (/proc/stat, all cores)",
    },
    summary,
    doubledInStream,
    rounds: { service: ours, anchor: bus },
  };
  await mkdir(join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(join(repoRoot, 'bench/results/booking-ingest.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `booking-ingest: offered ${rate}/s × ${durationS}s, median of ${rounds} rounds: ${summary.median.eventsPerS} meetings/s, ` +
      `publish→meeting.created p50 ${summary.median.p50Ms} ms p99 ${summary.median.p99Ms} ms (p99 range ${summary.range.p99Ms.join('–')} ms), ` +
      `lost ${summary.lost}, doubled ${summary.doubled}; JetStream alone p50 ${summary.anchor.median.p50Ms} ms p99 ${summary.anchor.median.p99Ms} ms; ` +
      `ratio to it: p99 ×${summary.ratioToAnchor.p99}, events/s ×${summary.ratioToAnchor.eventsPerS}`,
  );
  if (summary.lost !== 0 || summary.doubled !== 0) process.exitCode = 1;
} finally {
  for (const t of targets) await t.nc.close();
  await db.close();
  await Promise.all([meeting.stop(), echo.stop()]);
  await Promise.all([nats.stop(), anchorNats.stop(), postgres.stop()]);
}
