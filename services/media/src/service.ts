import {
  type Clock,
  consumeEvents,
  createRuntime,
  ensureConsumer,
  ensureStream,
  invalidRequest,
  type Logger,
  type RunningConsumer,
  type Runtime,
  ServiceError,
  systemClock,
  client,
  serve,
} from '@lessoncall/kit';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  eventTypeOf,
  isSubjectToken,
  isValidMeetingId,
  MeetingCancelledSchema,
  MeetingEndedSchema,
  ParticipantLeftSchema,
  type ParticipantLeft,
  streams,
  MeetingService,
  ParticipantService,
  MediaService as MediaRpc,
} from '@lessoncall/proto';
import type { MediaConfig } from './config';
import { createMediaMetrics } from './metrics';
import { NodePool } from './nodes';
import { Recordings } from './recordings';
import { Rooms } from './rooms';
import { LocalDiskStorage, type RecordingStorage, S3Storage } from './storage';

export interface MediaServiceDeps {
  logger?: Logger;
  clock?: Clock;
  telemetry?: false;
}

/** The storage backend the config names (RECORDINGS_STORAGE). */
export function storageFor(config: MediaConfig): RecordingStorage {
  if (config.RECORDINGS_STORAGE === 's3') {
    return new S3Storage({
      endpoint: config.S3_ENDPOINT as string,
      region: config.S3_REGION,
      bucket: config.S3_BUCKET,
      accessKeyId: config.S3_ACCESS_KEY_ID as string,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY as string,
    });
  }
  return new LocalDiskStorage({
    root: config.RECORDINGS_DIR,
    publicBaseUrl: `${config.PUBLIC_BASE_URL.replace(/\/$/, '')}/api/video/recordings`,
    secret: config.RECORDINGS_SIGNING_SECRET as string,
  });
}

export interface MediaService {
  runtime: Runtime;
  pool: NodePool;
  rooms: Rooms;
  recordings: Recordings;
  /** Makes every pending recording now (the timer does it every RECORDING_SWEEP_INTERVAL_MS); resolves when done. */
  processRecordings(): Promise<void>;
  stop(): Promise<void>;
}

export const meetingsDurable = 'media-meetings';
export const participantsDurable = 'media-participants';
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The SFU side of lessoncall: serves svc.media.join (a live session's access to its meeting's
 * Janus room), closes rooms when meetings end, revokes the tokens of sessions that leave, and
 * probes the Janus nodes, moving the rooms of a dead one.
 */
export async function startMediaService(config: MediaConfig, deps: MediaServiceDeps = {}): Promise<MediaService> {
  const clock = deps.clock ?? systemClock;
  let pool: NodePool | undefined;
  const runtime = await createRuntime('media', config, {
    logger: deps.logger,
    telemetry: deps.telemetry,
    checks: {
      janus: async () => {
        if (pool && !pool.nodes.some((n) => n.alive)) throw new Error('no Janus node answers');
      },
    },
  });
  const { logger, nc, js, jsm, db } = runtime;
  if (!db) throw new Error('media: DATABASE_URL is required');
  const metrics = createMediaMetrics(runtime.metrics.meter);
  const consumers: RunningConsumer[] = [];
  pool = new NodePool(config.JANUS_NODES, {
    adminSecret: config.JANUS_ADMIN_SECRET,
    roomAdminKey: config.JANUS_ROOM_ADMIN_KEY,
    timeoutMs: config.JANUS_TIMEOUT_MS,
    deadAfter: config.JANUS_DEAD_AFTER_FAILURES,
    logger,
  });
  const rooms = new Rooms({ db, js, pool, clock, logger, metrics, config });
  const storage = storageFor(config);
  const base = config.PUBLIC_BASE_URL.replace(/\/$/, '');
  const recordings = new Recordings({
    db,
    js,
    storage,
    clock,
    logger,
    metrics,
    recordingsDir: config.JANUS_RECORDINGS_DIR,
    urlOf: (meetingId) => `${base}/api/video/meetings/${meetingId}/recording`,
  });
  // One recording at a time per replica, off the consumer (an hour of lesson takes minutes to mix).
  let processing: Promise<void> | undefined;
  const processRecordings = (): Promise<void> => {
    processing ??= (async () => {
      try {
        for (const meetingId of await recordings.due()) {
          await recordings.process(meetingId).catch((err) => logger.error({ meetingId, err }, 'recording failed; retried on the next sweep'));
        }
        await recordings.expire(new Date(clock.now().getTime() - config.RECORDING_RETENTION_DAYS * 86_400_000));
      } finally {
        processing = undefined;
      }
    })();
    return processing;
  };
  const nodes = pool;
  nodes.onDead = async (n) => {
    const moved = await rooms.moveFrom(n);
    if (moved > 0) logger.warn({ node: n.spec.id, moved }, 'rooms moved off a dead node');
  };
  try {
    await Promise.all(
      [streams.media, streams.meetings, streams.participants, streams.deadLetters].map((spec) =>
        ensureStream(jsm, { ...spec, replicas: config.JETSTREAM_REPLICAS }),
      ),
    );
    await ensureConsumer(jsm, { stream: streams.meetings.name, durable: meetingsDurable, filterSubject: 'meeting.>' });
    await ensureConsumer(jsm, { stream: streams.participants.name, durable: participantsDurable, filterSubject: 'participant.left.>' });
    await nodes.probe();

    // The owners of who is live and of the meeting, asked on every room access.
    const participants = client(nc, ParticipantService, { timeoutMs: 3_000 });
    const meetings = client(nc, MeetingService, { timeoutMs: 3_000 });
    const api = await serve(
      nc,
      MediaRpc,
      {
        mediaJoin: async (req) => {
          if (!isValidMeetingId(req.meetingId)) throw invalidRequest('meetingId', 'meetingId must be MID- followed by 16 letters or digits');
          if (!isSubjectToken(req.sessionId)) throw invalidRequest('sessionId', 'not a session id');
          if (!uuidPattern.test(req.userId)) throw invalidRequest('userId', 'userId must be a uuid');
          const meetingId = req.meetingId;
          const userId = req.userId.toLowerCase();
          // The owners say who is live and what the meeting is; a session of another meeting or
          // user, or one that has left, gets nothing.
          const [live, described] = await Promise.all([participants.liveSessions({ meetingId }), meetings.describeMeeting({ meetingId })]);
          const session = live.sessions.find((s) => s.sessionId === req.sessionId);
          if (!session || session.userId.toLowerCase() !== userId) {
            throw new ServiceError('session_not_found', 'no live session of this user in this meeting', { meetingId });
          }
          const meeting = described.meeting;
          if (!meeting) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
          if (meeting.status === 'completed') throw new ServiceError('meeting_ended', 'the meeting has ended', { meetingId });
          if (meeting.status === 'cancelled') throw new ServiceError('meeting_cancelled', 'the meeting was cancelled', { meetingId });
          if (meeting.mediaMode !== 'sfu') throw new ServiceError('not_sfu', 'this meeting runs peer to peer', { meetingId });
          return { access: await rooms.access(meeting, { sessionId: req.sessionId, userId }) };
        },
        recordingLink: async (req) => {
          if (!isValidMeetingId(req.meetingId)) throw invalidRequest('meetingId', 'meetingId must be MID- followed by 16 letters or digits');
          if (!uuidPattern.test(req.userId)) throw invalidRequest('userId', 'userId must be a uuid');
          // The meeting as this user may read it: anybody not of the meeting gets meeting_not_found from its owner.
          await meetings.getMeeting({ meetingId: req.meetingId, userId: req.userId.toLowerCase(), passcode: '' });
          const key = await recordings.keyOf(req.meetingId);
          if (!key) throw new ServiceError('recording_not_found', 'this lesson has no recording (yet)', { meetingId: req.meetingId });
          const expiresAt = new Date(clock.now().getTime() + config.RECORDING_LINK_TTL_SECONDS * 1000);
          return { url: await storage.signedUrl(key, expiresAt), expiresAt: timestampFromDate(expiresAt) };
        },
      },
      { logger },
    );

    const common = { nc, js, logger, deadLetters: metrics.deadLetters, maxDeliver: 5 };
    consumers.push(
      await consumeEvents({
        ...common,
        stream: streams.meetings.name,
        durable: meetingsDurable,
        schemaFor: (subject) => {
          const type = eventTypeOf(subject);
          if (type === 'meeting.ended') return MeetingEndedSchema;
          if (type === 'meeting.cancelled') return MeetingCancelledSchema;
          return undefined;
        },
        handle: async (event) => {
          const meetingId = event.subject.split('.')[2] ?? '';
          if (!isValidMeetingId(meetingId)) throw invalidRequest('meetingId', `not a meeting id: ${meetingId}`);
          const closed = await rooms.close(meetingId);
          if (closed?.record) void processRecordings();
        },
      }),
    );
    consumers.push(
      await consumeEvents({
        ...common,
        stream: streams.participants.name,
        durable: participantsDurable,
        schemaFor: (subject) => (eventTypeOf(subject) === 'participant.left' ? ParticipantLeftSchema : undefined),
        handle: async (event) => {
          const p = (event.body as ParticipantLeft).participant;
          const meetingId = p?.meetingId || (event.subject.split('.')[2] ?? '');
          if (!p?.sessionId || !isValidMeetingId(meetingId)) throw invalidRequest('participant', 'participant.left without a session');
          await rooms.revoke(meetingId, p.sessionId);
        },
      }),
    );
    nodes.start(config.JANUS_HEALTH_INTERVAL_MS);
    const recordingTimer = setInterval(() => void processRecordings(), config.RECORDING_SWEEP_INTERVAL_MS);
    recordingTimer.unref();
    void processRecordings();
    const gaugeTimer = setInterval(() => {
      for (const n of nodes.nodes) {
        metrics.nodeAlive.record(n.alive ? 1 : 0, { node: n.spec.id });
        metrics.nodeLoad.record(n.participants, { node: n.spec.id });
      }
    }, config.JANUS_HEALTH_INTERVAL_MS);
    gaugeTimer.unref();

    runtime.markStarted();
    logger.info({ nodes: config.JANUS_NODES.map((n) => n.id) }, 'media service ready');
    return {
      runtime,
      pool: nodes,
      rooms,
      recordings,
      processRecordings,
      async stop() {
        clearInterval(gaugeTimer);
        clearInterval(recordingTimer);
        await processing?.catch(() => {});
        await api.stop().catch(() => {});
        await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
        await nodes.stop();
        await runtime.close();
      },
    };
  } catch (err) {
    await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
    await nodes.stop();
    await runtime.close();
    throw err;
  }
}
