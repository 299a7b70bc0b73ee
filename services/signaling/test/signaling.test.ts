import type { MessageInitShape } from '@bufbuild/protobuf';
import { createLogger, decode, ManualClock, publishCore, client } from '@lessoncall/kit';
import { type Harness, metricValue, setup, waitFor } from '@lessoncall/kit/testing';
import { loadMeetingConfig, type MeetingService, startMeetingService } from '@lessoncall/meeting';
import { loadParticipantConfig, type ParticipantService, startParticipantService } from '@lessoncall/participant';
import { generateSessionId, type SignalEnvelope, SignalEnvelopeSchema, subjects, ParticipantService as ParticipantRpc } from '@lessoncall/proto';
import type { Subscription } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSignalingConfig, type SignalingService, startSignalingService } from '../src/index';
import { createTestMeeting, type TestMeeting } from '@lessoncall/meeting/testing';

const logger = createLogger('signaling-test', { level: 'silent' });
const start = new Date('2026-03-01T10:00:00Z');

type Meeting = TestMeeting;

/** What the gateway holding a session's socket would receive on signal.deliver.<sessionId>. */
interface Inbox {
  messages: SignalEnvelope[];
  close(): void;
}

describe('signaling: two replicas on real NATS, with the real participant and meeting services', () => {
  let h: Harness;
  const clock = new ManualClock(new Date(start.getTime() - 5 * 60_000));
  let meetingService: MeetingService;
  let participant: ParticipantService;
  let replicas: SignalingService[] = [];
  const inboxes: Inbox[] = [];

  const signalingConfig = () => loadSignalingConfig({ ...h.natsEnv('signaling'), HEALTH_PORT: '0', LOG_LEVEL: 'silent', ROSTER_RECHECK_MIN_INTERVAL_MS: '0' });
  const startReplica = () => startSignalingService(signalingConfig(), { logger, clock, telemetry: false });

  beforeAll(async () => {
    h = await setup({ postgres: true });
    const base = { HEALTH_PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: h.postgres!.url };
    meetingService = await startMeetingService(loadMeetingConfig({ ...base, ...h.natsEnv('meeting'), SWEEP_INTERVAL_MS: '3600000' }), {
      clock,
      logger,
      telemetry: false,
    });
    participant = await startParticipantService(
      loadParticipantConfig({
        ...base,
        ...h.natsEnv('participant'),
        RESUME_TOKEN_SECRET: 'signaling-test-resume-secret-0123456789',
        SWEEP_INTERVAL_MS: '3600000',
        TURN_TIMEOUT_MS: '200',
      }),
      { clock, logger, telemetry: false },
    );
    replicas = await Promise.all([startReplica(), startReplica()]);
  });

  afterAll(async () => {
    for (const i of inboxes) i.close();
    await Promise.all(replicas.map((r) => r.stop()));
    await participant?.stop();
    await meetingService?.stop();
    await h?.cleanup();
  });

  // --- helpers ---------------------------------------------------------------------------

  const createMeeting = (): Promise<Meeting> => createTestMeeting(h.nc, { start });

  const join = async (m: Meeting, userId: string): Promise<string> =>
    (
      await client(h.nc, ParticipantRpc, { timeoutMs: 5_000 }).join({
        meetingId: m.meetingId,
        userId,
        passcode: m.passcode,
        clientKey: `ip-${userId}`,
        gatewayId: 'gw-test',
      })
    ).sessionId;

  const leave = (m: Meeting, sessionId: string, userId: string) =>
    client(h.nc, ParticipantRpc, { timeoutMs: 5_000 }).leave({ meetingId: m.meetingId, sessionId, userId });

  async function inbox(sessionId: string): Promise<Inbox> {
    const messages: SignalEnvelope[] = [];
    const sub: Subscription = h.nc.subscribe(subjects.signalDeliver(sessionId), {
      callback: (_err, msg) => {
        messages.push(decode(SignalEnvelopeSchema, msg.data));
      },
    });
    await h.nc.flush();
    const i = { messages, close: () => sub.unsubscribe() };
    inboxes.push(i);
    return i;
  }

  /** As the gateway does: published on the meeting of the sender's session, `from` stamped. */
  const send = (env: MessageInitShape<typeof SignalEnvelopeSchema> & { meetingId: string }) =>
    publishCore(h.nc, subjects.signalRoute(env.meetingId), SignalEnvelopeSchema, env);

  const candidate = (n: number) => ({
    type: 'candidate',
    candidate: { candidate: `candidate:${n} 1 udp 2122260223 192.0.2.10 ${50_000 + n} typ host`, sdpMid: '0' },
  });

  /** Every replica sees the session live (or not) in the meeting. */
  const rostersShow = (meetingId: string, sessionId: string, live: boolean, rs = replicas) =>
    waitFor(`${sessionId} ${live ? 'live' : 'gone'} in every roster`, () => rs.every((r) => r.roster.isLive(meetingId, sessionId) === live), 5_000);

  /**
   * Proves nothing is still on its way, without a sleep. Our flush: what we published is at the
   * server, ahead of any later PING. Each replica's flush: the server wrote those messages to it
   * before its PONG, and nats.js ran their callbacks on reading them. `settled()`: every one is
   * decided, re-reads included. The replica's flush again: what it published is at the server;
   * ours again: the server has written it to us.
   */
  const settle = async () => {
    await h.nc.flush();
    await Promise.all(
      replicas.map(async (r) => {
        await r.runtime.nc.flush();
        await r.settled();
        await r.runtime.nc.flush();
      }),
    );
    await h.nc.flush();
  };

  const metric = async (name: string, labels: Record<string, string> = {}, rs = replicas): Promise<number> => {
    let total = 0;
    for (const r of rs) total += metricValue(await r.runtime.metrics.text(), name, labels);
    return total;
  };

  // --- tests -------------------------------------------------------------------------------

  let m1: Meeting;
  let tutor: string;
  let student: string;

  it('rebuilt its roster at start-up and is ready', async () => {
    for (const r of replicas) {
      expect(r.isRebuilt()).toBe(true);
      const res = await fetch(`http://127.0.0.1:${r.runtime.health!.port}/readyz`);
      expect(res.status).toBe(200);
    }
  });

  it('delivers between two live sessions of a meeting, whichever replica takes the signal', async () => {
    m1 = await createMeeting();
    tutor = await join(m1, m1.tutorId);
    student = await join(m1, m1.studentId);
    await rostersShow(m1.meetingId, tutor, true);
    await rostersShow(m1.meetingId, student, true);
    const toStudent = await inbox(student);
    const toTutor = await inbox(tutor);

    send({
      meetingId: m1.meetingId,
      fromSessionId: tutor,
      toSessionId: student,
      requestId: 'offer-1',
      signal: { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' },
    });
    for (let n = 0; n < 30; n++) send({ meetingId: m1.meetingId, fromSessionId: tutor, toSessionId: student, requestId: `c-${n}`, signal: candidate(n) });
    send({ meetingId: m1.meetingId, fromSessionId: student, toSessionId: tutor, requestId: 'answer-1', signal: { type: 'answer', sdp: 'v=0\r\n' } });

    await waitFor('31 signals at the student', () => toStudent.messages.length >= 31, 5_000);
    await waitFor('the answer at the tutor', () => toTutor.messages.length >= 1, 5_000);
    expect(toStudent.messages.map((e) => e.requestId).sort()).toEqual(['offer-1', ...Array.from({ length: 30 }, (_, n) => `c-${n}`)].sort());
    expect(toStudent.messages.every((e) => e.fromSessionId === tutor && e.errorCode === '' && e.meetingId === m1.meetingId)).toBe(true);
    const offer = toStudent.messages.find((e) => e.requestId === 'offer-1')!;
    expect(offer.signal?.sdp).toBe('v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n');
    expect(toTutor.messages.map((e) => [e.requestId, e.signal?.type, e.fromSessionId])).toEqual([['answer-1', 'answer', student]]);

    // The queue group spreads the signals over both replicas (each decides alone).
    const perReplica = await Promise.all(replicas.map((r) => metric('signaling_signals_routed_total', {}, [r])));
    expect(perReplica.reduce((a, b) => a + b, 0)).toBe(32);
    expect(perReplica.every((n) => n > 0)).toBe(true);
  });

  it('a session of another meeting gets not_in_meeting, and the two in the call receive nothing', async () => {
    const m2 = await createMeeting();
    const intruder = await join(m2, m2.tutorId);
    await rostersShow(m2.meetingId, intruder, true);
    const toIntruder = await inbox(intruder);
    const toStudent = await inbox(student);
    const toTutor = await inbox(tutor);
    const rejectedBefore = await metric('signaling_signals_rejected_total', { reason: 'not_in_meeting' });

    // What its gateway publishes: its own meeting, its own session as `from`.
    send({ meetingId: m2.meetingId, fromSessionId: intruder, toSessionId: student, requestId: 'inject-1', signal: { type: 'offer', sdp: 'v=0\r\n' } });
    // A gateway that got the meeting wrong is no better off: the sender is not live in m1.
    send({ meetingId: m1.meetingId, fromSessionId: intruder, toSessionId: tutor, requestId: 'inject-2', signal: candidate(1) });

    await waitFor('two errors back to the intruder', () => toIntruder.messages.length >= 2, 5_000);
    await settle();
    expect(toIntruder.messages.map((e) => [e.requestId, e.errorCode]).sort()).toEqual([
      ['inject-1', 'not_in_meeting'],
      ['inject-2', 'not_in_meeting'],
    ]);
    expect(toIntruder.messages.every((e) => e.signal === undefined)).toBe(true);
    expect(toStudent.messages).toEqual([]);
    expect(toTutor.messages).toEqual([]);
    expect((await metric('signaling_signals_rejected_total', { reason: 'not_in_meeting' })) - rejectedBefore).toBe(2);
  });

  it('answers session_not_found for a target that is no live session, and rejects a malformed signal back to its sender', async () => {
    const toTutor = await inbox(tutor);
    send({ meetingId: m1.meetingId, fromSessionId: tutor, toSessionId: generateSessionId(), requestId: 'ghost', signal: candidate(2) });
    send({ meetingId: m1.meetingId, fromSessionId: tutor, toSessionId: student, requestId: 'bad-type', signal: { type: 'bye' } });
    send({ meetingId: m1.meetingId, fromSessionId: tutor, toSessionId: student, requestId: 'huge', signal: { type: 'offer', sdp: 'a'.repeat(70_000) } });
    await waitFor('three errors', () => toTutor.messages.length >= 3, 5_000);
    expect(Object.fromEntries(toTutor.messages.map((e) => [e.requestId, e.errorCode]))).toEqual({
      ghost: 'session_not_found',
      'bad-type': 'invalid_request',
      huge: 'message_too_large',
    });
    // Not JSON at all: nobody to answer, counted and dropped.
    const malformedBefore = await metric('signaling_signals_rejected_total', { reason: 'malformed' });
    h.nc.publish(subjects.signalRoute(m1.meetingId), new TextEncoder().encode('{not json'));
    await waitFor('malformed counted', async () => (await metric('signaling_signals_rejected_total', { reason: 'malformed' })) === malformedBefore + 1, 5_000);
  });

  it('finds a session that joined a moment ago, before its participant.joined reached a replica', async () => {
    // The participant service's truth has the session, the event never came: what a replica
    // sees when a signal beats the event to it.
    const sessionId = generateSessionId();
    await h.db!.asService((tx) =>
      tx.query(
        `insert into video_participants (meeting_id, user_id, user_type, display_name, session_id, joined_at, last_seen_at)
         values ($1, $2, 'student', 'Second tab', $3, $4, $4)`,
        [m1.meetingId, m1.studentId, sessionId, clock.now()],
      ),
    );
    expect(replicas.some((r) => r.roster.isLive(m1.meetingId, sessionId))).toBe(false);
    const toNew = await inbox(sessionId);
    const foundBefore = await metric('signaling_roster_rechecks_total', { outcome: 'found' });
    send({ meetingId: m1.meetingId, fromSessionId: tutor, toSessionId: sessionId, requestId: 'to-new', signal: { type: 'offer', sdp: 'v=0\r\n' } });
    await waitFor('delivered after a re-check', () => toNew.messages.length === 1, 5_000);
    expect(toNew.messages[0]?.requestId).toBe('to-new');
    expect(await metric('signaling_roster_rechecks_total', { outcome: 'found' })).toBe(foundBefore + 1);
    await h.db!.asService((tx) => tx.query(`update video_participants set left_at = $2, left_reason = 'left' where session_id = $1`, [sessionId, clock.now()]));
  });

  it('a session that left stops receiving, and cannot send', async () => {
    const m = await createMeeting();
    const a = await join(m, m.tutorId);
    const b = await join(m, m.studentId);
    await rostersShow(m.meetingId, b, true);
    const toA = await inbox(a);
    const toB = await inbox(b);
    send({ meetingId: m.meetingId, fromSessionId: a, toSessionId: b, requestId: 'before', signal: candidate(3) });
    await waitFor('delivered while live', () => toB.messages.length === 1, 5_000);

    await leave(m, b, m.studentId);
    await rostersShow(m.meetingId, b, false);
    send({ meetingId: m.meetingId, fromSessionId: a, toSessionId: b, requestId: 'after', signal: candidate(4) });
    send({ meetingId: m.meetingId, fromSessionId: b, toSessionId: a, requestId: 'from-left', signal: candidate(5) });
    await waitFor('errors back', () => toA.messages.length >= 1 && toB.messages.length >= 2, 5_000);
    await settle();
    expect(toA.messages.map((e) => [e.requestId, e.errorCode])).toEqual([['after', 'session_not_found']]);
    expect(toB.messages.map((e) => [e.requestId, e.errorCode])).toEqual([
      ['before', ''],
      ['from-left', 'not_in_meeting'],
    ]);
  });

  it('a restarted replica rebuilds the roster: sessions that joined or left while no replica ran are right', async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    replicas = [];
    // While signaling is down: a meeting gets going, and the student of m1 leaves.
    const m3 = await createMeeting();
    const x = await join(m3, m3.tutorId);
    const y = await join(m3, m3.studentId);
    await leave(m1, student, m1.studentId);

    replicas = [await startReplica()];
    const [fresh] = replicas;
    expect(fresh!.isRebuilt()).toBe(true);
    // Straight from the start-up read, before any signal could trigger a re-check.
    expect(fresh!.roster.isLive(m3.meetingId, x)).toBe(true);
    expect(fresh!.roster.isLive(m3.meetingId, y)).toBe(true);
    expect(fresh!.roster.isLive(m1.meetingId, tutor)).toBe(true);
    expect(fresh!.roster.isLive(m1.meetingId, student)).toBe(false);

    const toY = await inbox(y);
    send({ meetingId: m3.meetingId, fromSessionId: x, toSessionId: y, requestId: 'after-restart', signal: candidate(6) });
    await waitFor('delivered by the new replica', () => toY.messages.length === 1, 5_000);
    expect(await metric('signaling_roster_rechecks_total')).toBe(0);
    replicas.push(await startReplica());
  });

  it('re-reads the roster after a NATS restart, catching what happened while it was away', async () => {
    const m4 = await createMeeting();
    const a = await join(m4, m4.tutorId);
    await rostersShow(m4.meetingId, a, true);
    const rebuildsBefore = await metric('signaling_roster_rebuilds_total', { trigger: 'reconnect', outcome: 'ok' });
    // A session whose participant.joined no replica will ever see: written while NATS is down.
    const b = generateSessionId();
    await h.nats.restart();
    await h.db!.asService((tx) =>
      tx.query(
        `insert into video_participants (meeting_id, user_id, user_type, display_name, session_id, joined_at, last_seen_at)
         values ($1, $2, 'student', 'Sam', $3, $4, $4)`,
        [m4.meetingId, m4.studentId, b, clock.now()],
      ),
    );
    await waitFor(
      'every replica re-read its roster',
      async () => (await metric('signaling_roster_rebuilds_total', { trigger: 'reconnect', outcome: 'ok' })) >= rebuildsBefore + replicas.length,
      15_000,
    );
    await rostersShow(m4.meetingId, b, true);
    expect(replicas.every((r) => r.roster.isLive(m4.meetingId, a))).toBe(true);
  });

  it('starting while the participant service is down: not ready, then rebuilt and ready once it answers', async () => {
    const m5 = await createMeeting();
    const a = await join(m5, m5.tutorId);
    const b = await join(m5, m5.studentId);
    await participant.stop();
    const late = await startSignalingService(
      loadSignalingConfig({
        ...h.natsEnv('signaling'),
        HEALTH_PORT: '0',
        LOG_LEVEL: 'silent',
        ROSTER_REBUILD_TIMEOUT_MS: '300',
        ROSTER_REBUILD_RETRY_MS: '200',
      }),
      { logger, clock, telemetry: false },
    );
    replicas.push(late);
    expect(late.isRebuilt()).toBe(false);
    expect((await fetch(`http://127.0.0.1:${late.runtime.health!.port}/readyz`)).status).toBe(503);

    participant = await startParticipantService(
      loadParticipantConfig({
        ...h.natsEnv('participant'),
        HEALTH_PORT: '0',
        LOG_LEVEL: 'silent',
        DATABASE_URL: h.postgres!.url,
        RESUME_TOKEN_SECRET: 'signaling-test-resume-secret-0123456789',
        SWEEP_INTERVAL_MS: '3600000',
        TURN_TIMEOUT_MS: '200',
      }),
      { clock, logger, telemetry: false },
    );
    await waitFor('rebuilt once the participant service answers', () => late.isRebuilt(), 10_000);
    // Readiness is cached for READINESS_CACHE_MS (probes must be cheap): the next probes turn ready, as a kubelet's would.
    await waitFor('ready once rebuilt', async () => (await fetch(`http://127.0.0.1:${late.runtime.health!.port}/readyz`)).status === 200, 10_000);
    expect(late.roster.isLive(m5.meetingId, a) && late.roster.isLive(m5.meetingId, b)).toBe(true);
  });
});
