import { client, type Clock, createRuntime, ensureStream, type Logger, Outbox, type Runtime, type RuntimeOptions, serve, systemClock } from '@lessoncall/kit';
import { MeetingService, ParticipantService as ParticipantRpc, streams, TurnService } from '@lessoncall/proto';
import { boardAppend, boardControl, boardState } from './board';
import { chatHistory, chatSend } from './chat';
import type { ParticipantConfig } from './config';
import type { Context } from './context';
import { outboxOptions } from './events';
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
  /** Resolves once the events published so far are cleared from the outbox (that follows the publish, off its path). */
  outboxSettled(): Promise<void>;
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
  const ctx: Context = {
    config,
    db,
    nc,
    js,
    logger,
    clock: deps.clock ?? systemClock,
    metrics: createParticipantMetrics(runtime.metrics.meter),
    outbox: new Outbox(db, js, logger, outboxOptions),
    meetings: client(nc, MeetingService, { timeoutMs: config.MEETING_TIMEOUT_MS }),
    turn: client(nc, TurnService, { timeoutMs: config.TURN_TIMEOUT_MS }),
  };

  try {
    await ensureStream(jsm, { ...streams.participants, replicas: config.JETSTREAM_REPLICAS });
    // Consumed here, owned by the meeting service; whoever starts first creates it.
    await ensureStream(jsm, { ...streams.meetings, replicas: config.JETSTREAM_REPLICAS });
  } catch (err) {
    await runtime.close();
    throw err;
  }

  const inFlight = new Set<Promise<unknown>>();
  /** A method's handler on this context, counted while it runs so that stop() waits for it. */
  const tracked =
    <Req, Res>(handler: (ctx: Context, req: Req) => Promise<Res>) =>
    (req: Req): Promise<Res> => {
      const p = handler(ctx, req);
      inFlight.add(p);
      return p.finally(() => inFlight.delete(p));
    };

  const api = await serve(
    nc,
    ParticipantRpc,
    {
      join: tracked(join),
      leave: tracked(leave),
      mute: tracked(mute),
      listParticipants: tracked(list),
      presence: tracked(presence),
      attendance: tracked(attendance),
      liveSessions: tracked(liveSessions),
      chatSend: tracked(chatSend),
      chatHistory: tracked(chatHistory),
      record: tracked(record),
      remove: tracked(remove),
      allowRejoin: tracked(allowRejoin),
      askUnmute: tracked(askUnmute),
      boardAppend: tracked(boardAppend),
      boardState: tracked(boardState),
      boardControl: tracked(boardControl),
      qualityReport: tracked(qualityReport),
      removals: tracked(removals),
    },
    { logger },
  );
  const consumer = await consumeMeetings(ctx, jsm);
  const sweeper = startSweeper(ctx);
  runtime.markStarted();
  logger.info({ graceSeconds: config.PRESENCE_GRACE_SECONDS, maxSessions: config.MAX_SESSIONS_PER_MEETING }, 'participant service ready');

  return {
    runtime,
    sweep: () => sweeper.runNow(),
    outboxSettled: () => ctx.outbox.settle(),
    async stop() {
      await sweeper.stop();
      await api.stop().catch(() => {});
      await consumer.stop();
      await Promise.allSettled([...inFlight]);
      // Published events cleared, so that a restart does not publish them again.
      await ctx.outbox.settle();
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
