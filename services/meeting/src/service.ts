import {
  type Clock,
  createRuntime,
  ensureConsumer,
  ensureStream,
  type Logger,
  Outbox,
  type RunningConsumer,
  type Runtime,
  serve,
  systemClock,
} from '@lessoncall/kit';
import { MeetingService as MeetingRpc, streams } from '@lessoncall/proto';
import { meetingApi } from './api';
import { Bookings } from './bookings';
import type { MeetingConfig } from './config';
import { bookingsDurable, consumeBookings, consumeParticipants, consumeRecordings, mediaDurable, participantsDurable } from './consumers';
import { describeMeeting } from './describe';
import { MeetingEvents, outboxOptions } from './events';
import { Lifecycle, type SweepResult } from './lifecycle';
import { createMeetingMetrics } from './metrics';
import { Passcodes } from './passcodes';

export interface MeetingServiceDeps {
  logger?: Logger;
  clock?: Clock;
  telemetry?: false;
}

export interface MeetingService {
  runtime: Runtime;
  /** Runs the sweep once now (the timer runs it every SWEEP_INTERVAL_MS). */
  sweep(): Promise<SweepResult>;
  stop(): Promise<void>;
}

const minute = 60_000;

/** Provisions streams and consumers, serves svc.meeting.*, consumes bookings and participants, sweeps. */
export async function startMeetingService(config: MeetingConfig, deps: MeetingServiceDeps = {}): Promise<MeetingService> {
  const runtime = await createRuntime('meeting', config, { logger: deps.logger, telemetry: deps.telemetry });
  const { logger, nc, js, jsm, db } = runtime;
  if (!db) throw new Error('meeting: DATABASE_URL is required');
  const clock = deps.clock ?? systemClock;
  const consumers: RunningConsumer[] = [];
  try {
    await Promise.all(
      [streams.bookings, streams.meetings, streams.meetingLinks, streams.participants, streams.media, streams.deadLetters].map((spec) =>
        ensureStream(jsm, { ...spec, replicas: config.JETSTREAM_REPLICAS }),
      ),
    );
    const consumerSpec = { maxDeliver: config.BOOKING_MAX_DELIVER, ackWaitMs: config.BOOKING_ACK_WAIT_MS };
    await ensureConsumer(jsm, { stream: streams.bookings.name, durable: bookingsDurable, ...consumerSpec, maxAckPending: config.BOOKING_BATCH_SIZE * 4 });
    await ensureConsumer(jsm, { stream: streams.participants.name, durable: participantsDurable, filterSubject: 'participant.>', ...consumerSpec });
    await ensureConsumer(jsm, { stream: streams.media.name, durable: mediaDurable, filterSubject: 'recording.ready.>', ...consumerSpec });

    const metrics = createMeetingMetrics(runtime.metrics.meter);
    const events = new MeetingEvents({ leadMs: config.JOIN_LEAD_MINUTES * minute, graceMs: config.JOIN_GRACE_MINUTES * minute }, config.PUBLIC_BASE_URL);
    const outbox = new Outbox(db, js, logger, outboxOptions);
    const bookings = new Bookings({
      db,
      outbox,
      events,
      clock,
      logger,
      metrics,
      batch: { maxBatch: config.BOOKING_BATCH_SIZE, maxConcurrent: config.BOOKING_INSERT_CONCURRENCY },
      group: { maxStudents: config.GROUP_MAX_STUDENTS, meshMaxPeople: config.MESH_MAX_PEOPLE, mode: config.MEDIA_MODE },
    });
    const lifecycle = new Lifecycle({
      db,
      nc,
      outbox,
      events,
      clock,
      logger,
      metrics,
      graceMs: config.JOIN_GRACE_MINUTES * minute,
      attendanceTimeoutMs: config.ATTENDANCE_TIMEOUT_MS,
      noShowAfterMs: config.NO_SHOW_AFTER_MINUTES * minute,
      sweepBatchSize: config.SWEEP_BATCH_SIZE,
      outboxRelayAfterMs: config.OUTBOX_RELAY_AFTER_MS,
    });
    const passcodes = new Passcodes({
      db,
      clock,
      metrics,
      logger,
      policy: {
        maxFailures: config.PASSCODE_MAX_FAILURES,
        windowMs: config.PASSCODE_FAILURE_WINDOW_MINUTES * minute,
        lockMs: config.PASSCODE_LOCK_MINUTES * minute,
      },
    });

    const api = await serve(
      nc,
      MeetingRpc,
      { ...meetingApi({ db, bookings, lifecycle, passcodes, events, clock, logger, metrics }), describeMeeting: describeMeeting({ db, events }) },
      { logger },
    );
    const consumerDeps = {
      nc,
      js,
      logger,
      metrics,
      batch: config.BOOKING_BATCH_SIZE,
      maxDeliver: config.BOOKING_MAX_DELIVER,
      retry: { baseMs: config.BOOKING_RETRY_BASE_MS, maxMs: config.BOOKING_RETRY_MAX_MS },
      retryAlertMs: config.BOOKING_RETRY_ALERT_MS,
    };
    consumers.push(await consumeBookings({ ...consumerDeps, bookings, clock }));
    consumers.push(await consumeParticipants({ ...consumerDeps, lifecycle }));
    consumers.push(await consumeRecordings({ ...consumerDeps, db }));

    let sweeping: Promise<SweepResult> | undefined;
    const sweep = () => {
      sweeping ??= lifecycle.sweep().finally(() => {
        sweeping = undefined;
      });
      return sweeping;
    };
    const timer = setInterval(() => {
      sweep().catch((err) => logger.error({ err }, 'sweep failed'));
    }, config.SWEEP_INTERVAL_MS);
    timer.unref();

    runtime.markStarted();
    logger.info({ publicBaseUrl: config.PUBLIC_BASE_URL }, 'meeting service ready');
    return {
      runtime,
      sweep,
      async stop() {
        clearInterval(timer);
        await api.stop().catch(() => {});
        await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
        await sweeping?.catch(() => {});
        await outbox.settle();
        await runtime.close();
      },
    };
  } catch (err) {
    await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
    await runtime.close();
    throw err;
  }
}
