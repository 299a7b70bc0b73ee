import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import {
  type Clock,
  createRuntime,
  ensureStream,
  type Logger,
  type Runtime,
  type RuntimeOptions,
  serve,
  type Subscription,
  systemClock,
} from '@lessoncall/kit';
import {
  AllowRejoinRequestSchema,
  AllowRejoinResponseSchema,
  AskUnmuteRequestSchema,
  AskUnmuteResponseSchema,
  AttendanceRequestSchema,
  AttendanceResponseSchema,
  BoardAppendRequestSchema,
  BoardAppendResponseSchema,
  BoardControlRequestSchema,
  BoardControlResponseSchema,
  BoardStateRequestSchema,
  BoardStateResponseSchema,
  ChatHistoryRequestSchema,
  ChatHistoryResponseSchema,
  ChatSendRequestSchema,
  ChatSendResponseSchema,
  JoinRequestSchema,
  JoinResponseSchema,
  LeaveRequestSchema,
  LeaveResponseSchema,
  ListParticipantsRequestSchema,
  ListParticipantsResponseSchema,
  LiveSessionsRequestSchema,
  LiveSessionsResponseSchema,
  MuteRequestSchema,
  MuteResponseSchema,
  PresenceAckSchema,
  PresenceReportSchema,
  QualityReportRequestSchema,
  QualityReportResponseSchema,
  RecordRequestSchema,
  RecordResponseSchema,
  RemovalsRequestSchema,
  RemovalsResponseSchema,
  RemoveRequestSchema,
  RemoveResponseSchema,
  queues,
  rpc,
  streams,
} from '@lessoncall/proto';
import { boardAppend, boardControl, boardState } from './board';
import { chatHistory, chatSend } from './chat';
import type { ParticipantConfig } from './config';
import type { Context } from './context';
import { join } from './join';
import { consumeMeetings } from './meetings-consumer';
import { createParticipantMetrics } from './metrics';
import { attendance, list, liveSessions } from './queries';
import { qualityReport } from './quality';
import { record } from './record';
import { leave, mute, presence } from './sessions';
import { type SweepResult, sweep } from './sweep';
import { allowRejoin, askUnmute, removals, remove } from './tutor-controls';

export interface ParticipantService {
  runtime: Runtime;
  /** Runs a sweep pass now (after any pass in progress); tests move a ManualClock and call it. */
  sweep(): Promise<SweepResult>;
  /** Stops taking requests and events, finishes what is in flight, closes. */
  stop(): Promise<void>;
}

export interface ParticipantDeps {
  logger?: Logger;
  clock?: Clock;
  telemetry?: RuntimeOptions['telemetry'];
}

export async function startParticipantService(config: ParticipantConfig, deps: ParticipantDeps = {}): Promise<ParticipantService> {
  const runtime = await createRuntime('participant', config, { logger: deps.logger, telemetry: deps.telemetry });
  const { logger, nc, js, jsm } = runtime;
  const db = runtime.db;
  if (!db) throw new Error('participant: DATABASE_URL is required');
  const ctx: Context = { config, db, nc, js, logger, clock: deps.clock ?? systemClock, metrics: createParticipantMetrics(runtime.registry) };

  try {
    await ensureStream(jsm, { ...streams.participants, replicas: config.JETSTREAM_REPLICAS });
    // Consumed here, owned by the meeting service; whoever starts first creates it.
    await ensureStream(jsm, { ...streams.meetings, replicas: config.JETSTREAM_REPLICAS });
  } catch (err) {
    await runtime.close();
    throw err;
  }

  const inFlight = new Set<Promise<unknown>>();
  const endpoint = <I extends DescMessage, O extends DescMessage>(
    subject: string,
    request: I,
    response: O,
    handler: (ctx: Context, req: MessageShape<I>) => Promise<MessageInitShape<O>>,
  ): Subscription =>
    serve(nc, {
      subject,
      queue: queues.participant,
      request,
      response,
      logger,
      handler: (req) => {
        const p = handler(ctx, req);
        inFlight.add(p);
        return p.finally(() => inFlight.delete(p));
      },
    });

  const subscriptions = [
    endpoint(rpc.participantJoin, JoinRequestSchema, JoinResponseSchema, join),
    endpoint(rpc.participantLeave, LeaveRequestSchema, LeaveResponseSchema, leave),
    endpoint(rpc.participantMute, MuteRequestSchema, MuteResponseSchema, mute),
    endpoint(rpc.participantList, ListParticipantsRequestSchema, ListParticipantsResponseSchema, list),
    endpoint(rpc.participantPresence, PresenceReportSchema, PresenceAckSchema, presence),
    endpoint(rpc.participantAttendance, AttendanceRequestSchema, AttendanceResponseSchema, attendance),
    endpoint(rpc.participantLiveSessions, LiveSessionsRequestSchema, LiveSessionsResponseSchema, liveSessions),
    endpoint(rpc.participantChatSend, ChatSendRequestSchema, ChatSendResponseSchema, chatSend),
    endpoint(rpc.participantChatHistory, ChatHistoryRequestSchema, ChatHistoryResponseSchema, chatHistory),
    endpoint(rpc.participantRecord, RecordRequestSchema, RecordResponseSchema, record),
    endpoint(rpc.participantRemove, RemoveRequestSchema, RemoveResponseSchema, remove),
    endpoint(rpc.participantAllowRejoin, AllowRejoinRequestSchema, AllowRejoinResponseSchema, allowRejoin),
    endpoint(rpc.participantAskUnmute, AskUnmuteRequestSchema, AskUnmuteResponseSchema, askUnmute),
    endpoint(rpc.participantBoardAppend, BoardAppendRequestSchema, BoardAppendResponseSchema, boardAppend),
    endpoint(rpc.participantBoardState, BoardStateRequestSchema, BoardStateResponseSchema, boardState),
    endpoint(rpc.participantBoardControl, BoardControlRequestSchema, BoardControlResponseSchema, boardControl),
    endpoint(rpc.participantQualityReport, QualityReportRequestSchema, QualityReportResponseSchema, qualityReport),
    endpoint(rpc.participantRemovals, RemovalsRequestSchema, RemovalsResponseSchema, removals),
  ];
  const consumer = await consumeMeetings(ctx, jsm);
  const sweeper = startSweeper(ctx);
  runtime.markStarted();
  logger.info({ graceSeconds: config.PRESENCE_GRACE_SECONDS, maxSessions: config.MAX_SESSIONS_PER_MEETING }, 'participant service ready');

  return {
    runtime,
    sweep: () => sweeper.runNow(),
    async stop() {
      await sweeper.stop();
      await Promise.all(subscriptions.map((s) => s.drain().catch(() => {})));
      await consumer.stop();
      await Promise.allSettled([...inFlight]);
      await runtime.close();
    },
  };
}

/** Sweeps every SWEEP_INTERVAL_MS, one pass at a time; a failed pass is logged and retried on the next tick. */
function startSweeper(ctx: Context) {
  let last: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const runNow = (): Promise<SweepResult> => {
    const pass = last.then(() => sweep(ctx));
    last = pass.catch(() => {});
    return pass;
  };
  const tick = () => {
    timer = setTimeout(() => {
      runNow()
        .catch((err) => ctx.logger.error({ err }, 'sweep failed'))
        .finally(() => {
          if (!stopped) tick();
        });
    }, ctx.config.SWEEP_INTERVAL_MS);
  };
  tick();
  return {
    runNow,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await last;
    },
  };
}
