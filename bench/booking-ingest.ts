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
 * (WARMUP_S), because this machine is shared and one round can be disturbed. Writes bench/results/booking-ingest.json.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { cloudEventHeaders, connectNats, createLogger, Db, encode, type MsgHdrs } from '@lessoncall/kit';
import { freePort, repoRoot, startNats, startPostgres } from '@lessoncall/kit/testing';
import { bookingConfirmed } from '@lessoncall/booking-system';
import { BookingConfirmedSchema, subjects } from '@lessoncall/proto';
import { cpuSeconds, natsPid, startProcess, waitReady } from './lib/processes';
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

/** CPU seconds of the harness Postgres on `port`: the postmaster and its backends. */
function postgresCpuSeconds(port: number): number {
  const procs: { pid: number; ppid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.push({ pid: Number(entry), ppid, cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8') });
    } catch {
      // gone meanwhile
    }
  }
  const master = procs.find((p) => p.cmd.includes('postgres') && p.cmd.split('\0').includes(String(port)))?.pid;
  if (master === undefined) return 0;
  return procs.filter((p) => p.pid === master || p.ppid === master).reduce((sum, p) => sum + cpuSeconds(p.pid), 0);
}

const [nats, postgres] = await Promise.all([startNats(), startPostgres()]);
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
const nc = await connectNats({ url: nats.url, name: 'booking-ingest-bench', logger: createLogger('bench', { level: 'warn' }) });
const js = nc.jetstream();
const jsm = await nc.jetstreamManager();
const db = new Db({ url: postgres.url, max: 1 });

/** Who is waiting for which booking's meeting.created, and what arrived. */
const sentAt = new Map<string, number>();
const arrivals = new Map<string, { at: number; eventId: string }>();
let republishedOnWire = 0;
let doubledOnWire = 0;
const decoder = new TextDecoder();
nc.subscribe('meeting.created.>', {
  callback: (_, m) => {
    const now = performance.now();
    const bookingId = (JSON.parse(decoder.decode(m.data)) as { meeting: { bookingId: string } }).meeting.bookingId;
    if (!sentAt.has(bookingId)) return; // not one of ours
    const eventId = m.headers?.get('ce-id') ?? '';
    const earlier = arrivals.get(bookingId);
    if (earlier === undefined) arrivals.set(bookingId, { at: now, eventId });
    // The same event id again is dropped by JetStream: the stream's consumers see it once.
    else if (earlier.eventId === eventId) republishedOnWire++;
    else doubledOnWire++;
  },
});

let publishErrors = 0;
const publish = (p: Prepared, copy?: Prepared['duplicate']) =>
  js.publish(subjects.bookingConfirmed, p.data, { headers: copy?.headers ?? p.headers, msgID: copy?.msgID ?? p.msgID }).catch(() => {
    publishErrors++;
  });

async function drained(): Promise<void> {
  const deadline = Date.now() + drainTimeoutMs;
  for (;;) {
    const c = await jsm.consumers.info('BOOKINGS', 'meeting-bookings');
    if (c.num_pending + c.num_ack_pending === 0) return;
    if (Date.now() > deadline) throw new Error('the meeting service did not drain its backlog');
    await sleep(100);
  }
}

async function measure(n: number, seconds = durationS) {
  const total = Math.round(rate * seconds);
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const bookings = prepare(prefix, total, duplicates);
  const before = { republished: republishedOnWire, doubled: doubledOnWire, errors: publishErrors };
  const cpuBefore = { meeting: cpuSeconds(meeting.pid), nats: cpuSeconds(natsPid(nats.port) ?? 0), postgres: postgresCpuSeconds(postgres.port) };
  const loadBefore = loadavg()[0] ?? 0;
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
      sentAt.set(p.bookingId, performance.now());
      inflight.push(publish(p));
      if (p.duplicate) inflight.push(publish(p, p.duplicate));
    }
    await sleep(2);
  }
  const publishSeconds = (performance.now() - t0) / 1000;
  await Promise.all(inflight);
  const arrivedOf = () => bookings.filter((b) => arrivals.has(b.bookingId)).length;
  const deadline = Date.now() + drainTimeoutMs;
  while (arrivedOf() < total && Date.now() < deadline) await sleep(50);
  await sleep(500); // late doubles, if any
  const cpuAfter = { meeting: cpuSeconds(meeting.pid), nats: cpuSeconds(natsPid(nats.port) ?? 0), postgres: postgresCpuSeconds(postgres.port) };

  const latencies: number[] = [];
  let lastArrival = t0;
  for (const b of bookings) {
    const a = arrivals.get(b.bookingId);
    if (!a) continue;
    latencies.push(a.at - (sentAt.get(b.bookingId) as number));
    lastArrival = Math.max(lastArrival, a.at);
  }
  const { rows } = await db.pool.query<{ meetings: number; bookings: number }>(
    'select count(*)::int as meetings, count(distinct booking_id)::int as bookings from video_meetings where booking_id like $1',
    [`${prefix}-%`],
  );
  const createdInStream = await (async () => {
    const subjectsOf = (await jsm.streams.info('MEETINGS', { subjects_filter: 'meeting.created.>' })).state.subjects ?? {};
    return Object.values(subjectsOf).reduce((a, b) => a + b, 0);
  })();
  return {
    round: n,
    loadAverageBefore: round(loadBefore),
    publishSeconds: round(publishSeconds, 3),
    maxPublisherLagMs: round(maxLagMs, 1),
    bookings: total,
    duplicatesPublished: bookings.filter((b) => b.duplicate).length,
    sustainedEventsPerS: round(latencies.length / ((lastArrival - t0) / 1000), 1),
    latencyMs: summarize(latencies),
    lost: total - latencies.length,
    meetingsInPostgres: rows[0]?.meetings ?? 0,
    doubledInPostgres: (rows[0]?.meetings ?? 0) - (rows[0]?.bookings ?? 0),
    doubledOnWire: doubledOnWire - before.doubled,
    /** The same meeting.created (same ce-id) published again while the first was in flight; JetStream kept one. */
    republishedSameEventId: republishedOnWire - before.republished,
    publishErrors: publishErrors - before.errors,
    meetingCreatedInStreamSoFar: createdInStream,
    cpuSeconds: {
      meeting: round(cpuAfter.meeting - cpuBefore.meeting),
      nats: round(cpuAfter.nats - cpuBefore.nats),
      postgres: round(cpuAfter.postgres - cpuBefore.postgres),
    },
  };
}

try {
  await waitReady(`http://127.0.0.1:${healthPort}/readyz`, meeting);
  await nc.flush();
  // Warm-up at the offered rate (JIT, connection pool, consumer, table statistics): not recorded.
  const warm = await measure(0, warmupS);
  console.log(`warm-up: ${warm.sustainedEventsPerS} meetings/s, p99 ${warm.latencyMs.p99} ms (not recorded)`);
  await drained();
  const warmMeetings = warm.meetingsInPostgres;

  const results = [];
  for (let n = 1; n <= rounds; n++) {
    const r = await measure(n);
    results.push(r);
    const l = r.latencyMs;
    console.log(
      `round ${n}: ${r.sustainedEventsPerS} meetings/s, p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, lost ${r.lost}, ` +
        `doubled ${r.doubledInPostgres + r.doubledOnWire} (load average ${r.loadAverageBefore})`,
    );
    await drained();
  }
  // meeting.created in the stream must be exactly one per meeting of every round and the warm-up.
  const streamTotal = results.at(-1)?.meetingCreatedInStreamSoFar ?? 0;
  const doubledInStream = streamTotal - warmMeetings - results.reduce((n, r) => n + r.meetingsInPostgres, 0);
  const byP99 = [...results].sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99);
  const median = byP99[Math.floor(byP99.length / 2)] ?? results[0];
  const summary = {
    offeredRatePerS: rate,
    medianRound: median?.round,
    sustainedEventsPerS: median?.sustainedEventsPerS,
    p50Ms: median?.latencyMs.p50,
    p99Ms: median?.latencyMs.p99,
    bestP99Ms: byP99[0]?.latencyMs.p99,
    worstP99Ms: byP99.at(-1)?.latencyMs.p99,
    lost: results.reduce((n, r) => n + r.lost, 0),
    doubled: results.reduce((n, r) => n + r.doubledInPostgres + r.doubledOnWire, 0) + doubledInStream,
    target: { eventsPerS: 2_000, p99Ms: 100 },
  };
  const result = {
    benchmark: 'booking-ingest',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version },
    setup: {
      service:
        'meeting service as its own process (node --import tsx services/meeting/src/main.ts, default config); publisher and collector in the bench process',
      offeredRatePerS: rate,
      durationS,
      rounds,
      duplicateShare: duplicates,
    },
    summary,
    doubledInStream,
    rounds: results,
  };
  await mkdir(join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(join(repoRoot, 'bench/results/booking-ingest.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `booking-ingest: offered ${rate}/s × ${durationS}s, median of ${rounds} rounds: ${summary.sustainedEventsPerS} meetings/s, ` +
      `publish→meeting.created p50 ${summary.p50Ms} ms p99 ${summary.p99Ms} ms (p99 range ${summary.bestP99Ms}–${summary.worstP99Ms} ms), ` +
      `lost ${summary.lost}, doubled ${summary.doubled}`,
  );
  if (summary.lost !== 0 || summary.doubled !== 0) process.exitCode = 1;
} finally {
  await nc.close();
  await db.close();
  await meeting.stop();
  await Promise.all([nats.stop(), postgres.stop()]);
}
