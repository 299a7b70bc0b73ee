import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, client } from '@lessoncall/kit';
import { type Harness, type JanusServer, setup, startJanus } from '@lessoncall/kit/testing';
import { loadMeetingConfig, type MeetingService, startMeetingService } from '@lessoncall/meeting';
import { createTestMeeting, type TestMeeting, type TestMeetingOptions } from '@lessoncall/meeting/testing';
import { loadParticipantConfig, type ParticipantService, startParticipantService } from '@lessoncall/participant';
import { type SfuAccess, MeetingService as MeetingRpc, ParticipantService as ParticipantRpc, MediaService as MediaRpc } from '@lessoncall/proto';
import { loadMediaConfig, type MediaService, type MediaServiceDeps, startMediaService } from '../src/index';

export const logger = createLogger('media-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface MediaStack {
  h: Harness;
  janus: JanusServer[];
  /** The local storage backend's root (RECORDINGS_DIR). */
  recordingsDir: string;
  meeting: MeetingService;
  participant: ParticipantService;
  media: MediaService;
  /** Starts another media replica on the same nodes (closed by stop()). */
  startMedia(overrides?: Record<string, string>, deps?: MediaServiceDeps): Promise<MediaService>;
  createMeeting(options?: TestMeetingOptions): Promise<TestMeeting>;
  /** A live session of the meeting for this user (svc.participant.join). */
  join(m: TestMeeting, userId: string): Promise<string>;
  leave(m: TestMeeting, userId: string, sessionId: string): Promise<void>;
  end(m: TestMeeting): Promise<void>;
  access(m: TestMeeting, userId: string, sessionId: string): Promise<SfuAccess>;
  stop(): Promise<void>;
}

/**
 * Real NATS (with the permission matrix), Postgres, `nodes` Janus processes sharing their secrets,
 * and the meeting, participant and media services — everything svc.media.join depends on.
 */
export async function startMediaStack(options: { nodes?: number; media?: Record<string, string>; deps?: MediaServiceDeps } = {}): Promise<MediaStack> {
  const secret = () => randomBytes(18).toString('base64url');
  const shared = { adminSecret: secret(), tokenSecret: secret(), roomAdminKey: secret() };
  const [h, ...janus] = await Promise.all([
    setup({ postgres: true, auth: true }),
    ...Array.from({ length: options.nodes ?? 1 }, (_, i) => startJanus({ ...shared, name: `janus-${i}` })),
  ]);
  const base = { HEALTH_PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: h.postgres!.url };
  const meeting = await startMeetingService(loadMeetingConfig({ ...base, ...h.natsEnv('meeting'), SWEEP_INTERVAL_MS: '3600000' }), {
    logger,
    telemetry: false,
  });
  const participant = await startParticipantService(
    loadParticipantConfig({
      ...base,
      ...h.natsEnv('participant'),
      RESUME_TOKEN_SECRET: 'media-test-resume-secret-0123456789abcdef',
      SWEEP_INTERVAL_MS: '3600000',
      TURN_TIMEOUT_MS: '100',
    }),
    { logger, telemetry: false },
  );
  const extra: MediaService[] = [];
  const recordingsDir = await mkdtemp(join(tmpdir(), 'lessoncall-stored-recordings-'));
  const startMedia = async (overrides: Record<string, string> = {}, deps: MediaServiceDeps = {}) => {
    const s = await startMediaService(
      loadMediaConfig({
        ...base,
        ...h.natsEnv('media'),
        JANUS_NODES: janus.map((j) => j.nodeSpec).join(','),
        JANUS_ADMIN_SECRET: shared.adminSecret,
        JANUS_TOKEN_SECRET: shared.tokenSecret,
        JANUS_ROOM_ADMIN_KEY: shared.roomAdminKey,
        JANUS_RECORDINGS_DIR: janus[0]!.recordingsDir,
        JANUS_HEALTH_INTERVAL_MS: '300',
        JANUS_DEAD_AFTER_FAILURES: '2',
        JANUS_TIMEOUT_MS: '1000',
        RECORDINGS_DIR: recordingsDir,
        RECORDINGS_SIGNING_SECRET: 'media-test-recordings-signing-secret',
        PUBLIC_BASE_URL: 'http://lessons.test',
        ...options.media,
        ...overrides,
      }),
      { logger, telemetry: false, ...options.deps, ...deps },
    );
    extra.push(s);
    return s;
  };
  const media = await startMedia();
  return {
    h,
    janus,
    recordingsDir,
    meeting,
    participant,
    media,
    startMedia,
    createMeeting: (o = {}) => createTestMeeting(h.nc, { students: 5, ...o }),
    async join(m, userId) {
      const r = await client(h.nc, ParticipantRpc, {
        timeoutMs: 5_000,
      }).join({ meetingId: m.meetingId, userId, passcode: m.passcode, clientKey: userId });
      return r.sessionId;
    },
    async leave(m, userId, sessionId) {
      await client(h.nc, ParticipantRpc, { timeoutMs: 5_000 }).leave({ meetingId: m.meetingId, userId, sessionId });
    },
    async end(m) {
      await client(h.nc, MeetingRpc, { timeoutMs: 5_000 }).endMeeting({ meetingId: m.meetingId, userId: m.tutorId });
    },
    async access(m, userId, sessionId) {
      const r = await client(h.nc, MediaRpc, {
        timeoutMs: 8_000,
      }).mediaJoin({ meetingId: m.meetingId, userId, sessionId });
      if (!r.access) throw new Error('svc.media.join answered without access');
      return r.access;
    },
    async stop() {
      await Promise.all(extra.map((s) => s.stop().catch(() => {})));
      await participant.stop();
      await meeting.stop();
      await Promise.all(janus.map((j) => j.stop()));
      await h.cleanup();
      await rm(recordingsDir, { recursive: true, force: true });
    },
  };
}
