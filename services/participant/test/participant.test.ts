import { createHash, randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { createLogger, ManualClock, publishEvent, ServiceError, client } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { loadMeetingConfig, type MeetingService, startMeetingService } from '@lessoncall/meeting';
import {
  type AttendanceRequestSchema,
  BookingCancelledSchema,
  BookingRescheduledSchema,
  type JoinRequestSchema,
  type LeaveRequestSchema,
  type ListParticipantsRequestSchema,
  MeetingSchema,
  type MuteRequestSchema,
  type PresenceReportSchema,
  sessionIdPattern,
  subjects,
  MeetingService as MeetingRpc,
  ParticipantService as ParticipantRpc,
  TurnService as TurnRpc,
  rpcQueue,
  rpcSubject,
} from '@lessoncall/proto';
import { loadTurnConfig, startTurnService, type TurnService } from '@lessoncall/turn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParticipantConfig, type ParticipantService, startParticipantService } from '../src/index';
import { applyMeeting } from '../src/projection';
import { createTestMeeting, type TestMeeting } from '@lessoncall/meeting/testing';

const logger = createLogger('participant-test', { level: 'silent' });
const turnUrl = 'turn:127.0.0.1:3478?transport=udp';
const graceSeconds = 20;

type Meeting = TestMeeting;

interface StoredEvent {
  subject: string;
  type: string;
  ceId: string;
  source: string;
  body: Record<string, unknown>;
}

describe('participant service (real NATS, Postgres, meeting and turn services)', () => {
  let h: Harness;
  const clock = new ManualClock('2026-03-01T09:00:00Z');
  let participant: ParticipantService;
  let meetingService: MeetingService;
  let turn: TurnService;
  let participantConfig: ReturnType<typeof loadParticipantConfig>;

  beforeAll(async () => {
    h = await setup({ postgres: true });
    const base = { HEALTH_PORT: '0', LOG_LEVEL: 'silent' };
    participantConfig = loadParticipantConfig({
      ...base,
      ...h.natsEnv('participant'),
      DATABASE_URL: h.postgres!.url,
      RESUME_TOKEN_SECRET: 'participant-test-resume-secret-0123456789',
      PRESENCE_GRACE_SECONDS: String(graceSeconds),
      // Off here (the manual clock jumps far without heartbeats); one test turns it on.
      PRESENCE_STALE_SECONDS: '0',
      // The tests run every sweep themselves, at the (manual) time they choose.
      SWEEP_INTERVAL_MS: '3600000',
      TURN_TIMEOUT_MS: '300',
    });
    meetingService = await startMeetingService(
      loadMeetingConfig({ ...base, ...h.natsEnv('meeting'), DATABASE_URL: h.postgres!.url, SWEEP_INTERVAL_MS: '3600000' }),
      {
        clock,
        logger,
        telemetry: false,
      },
    );
    turn = await startTurnService(loadTurnConfig({ ...base, ...h.natsEnv('turn'), TURN_SECRET: 'turn-secret-for-the-tests', TURN_URLS: turnUrl }), {
      clock,
      logger,
      telemetry: false,
    });
    participant = await startParticipantService(participantConfig, { clock, logger, telemetry: false });
  });

  afterAll(async () => {
    await participant?.stop();
    await meetingService?.stop();
    await turn?.stop();
    await h?.cleanup();
  });

  // --- helpers ---------------------------------------------------------------------------

  const participants = () => client(h.nc, ParticipantRpc, { timeoutMs: 5_000 });
  const meetings = () => client(h.nc, MeetingRpc, { timeoutMs: 5_000 });
  const join = (body: MessageInitShape<typeof JoinRequestSchema>) => participants().join(body);
  const leave = (body: MessageInitShape<typeof LeaveRequestSchema>) => participants().leave(body);
  const mute = (body: MessageInitShape<typeof MuteRequestSchema>) => participants().mute(body);
  const list = (body: MessageInitShape<typeof ListParticipantsRequestSchema>) => participants().listParticipants(body);
  const presence = (body: MessageInitShape<typeof PresenceReportSchema>) => participants().presence(body);
  const attendance = (body: MessageInitShape<typeof AttendanceRequestSchema>) => participants().attendance(body);
  const failure = async (p: Promise<unknown>): Promise<ServiceError> => {
    const outcome = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(outcome instanceof ServiceError)) throw new Error(`expected a ServiceError, got ${String(outcome)}`);
    return outcome;
  };
  const at = (iso: string) => new Date(iso);

  const createMeeting = (start: Date, minutes = 60): Promise<Meeting> =>
    createTestMeeting(h.nc, { start, minutes, tutorName: 'Tara Tutor', studentName: 'Sam Student' });

  /** The events of one meeting on a stream, in stream order. */
  async function eventsOf(stream: string, meetingId: string): Promise<StoredEvent[]> {
    const info = await h.jsm.streams.info(stream);
    const out: StoredEvent[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await h.jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
      if (!m?.subject.endsWith(`.${meetingId}`)) continue;
      out.push({
        subject: m.subject,
        type: m.header.get('ce-type'),
        ceId: m.header.get('ce-id'),
        source: m.header.get('ce-source'),
        body: JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>,
      });
    }
    return out;
  }
  const participantEvents = (meetingId: string) => eventsOf('PARTICIPANTS', meetingId);

  interface Row {
    session_id: string;
    user_id: string;
    left_at: Date | null;
    left_reason: string | null;
    is_muted: boolean;
    camera_off: boolean;
    connected: boolean;
    reconnects: number;
    resume_token_hash: string | null;
    gateway_id: string | null;
  }
  const rowsOf = (meetingId: string) =>
    h.db!.asService(
      async (tx) => (await tx.query<Row>('select * from video_participants where meeting_id = $1 order by joined_at, session_id', [meetingId])).rows,
    );
  const projected = async (meetingId: string) =>
    (
      await h.db!.asService((tx) =>
        tx.query<{ status: string; tutor_id: string; student_id: string; scheduled_start: Date }>(
          'select status, tutor_id, student_id, scheduled_start from participant_meetings where meeting_id = $1',
          [meetingId],
        ),
      )
    ).rows[0];
  const rowOf = async (sessionId: string) =>
    h.db!.asService(async (tx) => (await tx.query<Row>('select * from video_participants where session_id = $1', [sessionId])).rows[0]!);

  // --- tests -------------------------------------------------------------------------------

  it('join → list → mute → leave: rows, replies and events in order', async () => {
    clock.set('2026-03-01T10:00:00Z');
    const m = await createMeeting(at('2026-03-01T10:05:00Z'));

    const tutor = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode, clientKey: 'ip-tutor' });
    expect(tutor.sessionId).toMatch(sessionIdPattern);
    expect(tutor.resumeToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tutor.userType).toBe('tutor');
    expect(tutor.resumed).toBe(false);
    expect(tutor.meeting?.meetingId).toBe(m.meetingId);
    expect(tutor.participants.map((p) => [p.sessionId, p.displayName])).toEqual([[tutor.sessionId, 'Tara Tutor']]);
    expect(tutor.iceServers[0]?.urls).toEqual([turnUrl]);
    expect(tutor.iceServers[0]?.username).toMatch(new RegExp(`:${m.tutorId}$`));
    expect(tutor.iceTtlSeconds).toBe(3600);

    clock.advance(60_000);
    const student = await join({
      meetingId: m.meetingId,
      userId: m.studentId,
      passcode: m.passcode,
      clientKey: 'ip-student',
      displayName: ' Sam ',
      cameraOff: true,
    });
    expect(student.userType).toBe('student');
    expect(student.participants.map((p) => [p.userId, p.displayName, p.isMuted, p.cameraOff])).toEqual([
      [m.tutorId, 'Tara Tutor', false, false],
      [m.studentId, 'Sam', false, true],
    ]);
    expect(timestampDate(student.participants[1]!.joinedAt!)).toEqual(at('2026-03-01T10:01:00Z'));

    const listed = await list({ meetingId: m.meetingId, userId: m.studentId });
    expect(listed.participants.map((p) => p.sessionId)).toEqual([tutor.sessionId, student.sessionId]);

    // Own state through RLS, then host control by the tutor.
    expect((await mute({ meetingId: m.meetingId, userId: m.studentId, sessionId: student.sessionId, kind: 'audio', muted: true })).participant?.isMuted).toBe(
      true,
    );
    expect((await mute({ meetingId: m.meetingId, userId: m.studentId, sessionId: student.sessionId, kind: 'audio', muted: false })).participant?.isMuted).toBe(
      false,
    );
    const hostMuted = await mute({
      meetingId: m.meetingId,
      userId: m.tutorId,
      sessionId: tutor.sessionId,
      targetSessionId: student.sessionId,
      kind: 'audio',
      muted: true,
    });
    expect(hostMuted.participant).toMatchObject({ sessionId: student.sessionId, isMuted: true, cameraOff: true });

    clock.advance(60_000);
    const left = await leave({ meetingId: m.meetingId, sessionId: student.sessionId, userId: m.studentId });
    expect(left.participant).toMatchObject({ sessionId: student.sessionId, leftReason: 'left' });
    // Idempotent: the same answer, no second event.
    const again = await leave({ meetingId: m.meetingId, sessionId: student.sessionId, userId: m.studentId });
    expect(again.participant?.leftAt).toEqual(left.participant?.leftAt);
    // Only one's own session.
    expect((await failure(leave({ meetingId: m.meetingId, sessionId: tutor.sessionId, userId: m.studentId }))).code).toBe('session_not_found');

    expect((await list({ meetingId: m.meetingId, userId: m.tutorId })).participants.map((p) => p.sessionId)).toEqual([tutor.sessionId]);
    expect((await list({ meetingId: m.meetingId, userId: m.tutorId, includeLeft: true })).participants).toHaveLength(2);

    const row = await rowOf(student.sessionId);
    expect(row).toMatchObject({ left_reason: 'left', is_muted: true, camera_off: true, connected: true });
    expect(row.left_at).toEqual(at('2026-03-01T10:02:00Z'));
    // The resume token is never stored, only its hash.
    expect(row.resume_token_hash).toBe(createHash('sha256').update(student.resumeToken).digest('hex'));

    const events = await participantEvents(m.meetingId);
    expect(events.map((e) => [e.type, e.ceId])).toEqual([
      ['participant.joined', `participant.joined:${tutor.sessionId}`],
      ['participant.joined', `participant.joined:${student.sessionId}`],
      ['mute.changed', expect.any(String)],
      ['mute.changed', expect.any(String)],
      ['mute.changed', expect.any(String)],
      ['participant.left', `participant.left:${student.sessionId}`],
    ]);
    // One ce-source format for every service's events, the meeting service's included.
    expect(new Set(events.map((e) => e.source))).toEqual(new Set(['/lessoncall/participant']));
    expect(new Set((await eventsOf('MEETINGS', m.meetingId)).map((e) => e.source))).toEqual(new Set(['/lessoncall/meeting']));
    expect(events.slice(2, 5).map((e) => [e.body.sessionId, e.body.kind, e.body.muted, e.body.byUserId])).toEqual([
      [student.sessionId, 'audio', true, m.studentId],
      [student.sessionId, 'audio', false, m.studentId],
      [student.sessionId, 'audio', true, m.tutorId],
    ]);
    expect(events[5]?.body).toMatchObject({ reason: 'left', participant: { sessionId: student.sessionId, userId: m.studentId, leftReason: 'left' } });
    expect(events[1]?.subject).toBe(subjects.participantJoined(m.meetingId));
  });

  it('wrong user, wrong passcode, outside the window, full meeting, student muting the tutor: each its code, nothing recorded', async () => {
    clock.set('2026-03-02T10:00:00Z');
    const a = await createMeeting(at('2026-03-02T10:05:00Z'));
    const later = await createMeeting(at('2026-03-03T10:00:00Z'));

    expect((await failure(join({ meetingId: a.meetingId, userId: randomUUID(), passcode: a.passcode, clientKey: 'ip-x' }))).code).toBe('not_a_participant');
    const wrong = await failure(
      join({ meetingId: a.meetingId, userId: a.studentId, passcode: a.passcode === '000000' ? '111111' : '000000', clientKey: 'ip-s' }),
    );
    expect(wrong.code).toBe('passcode_invalid');
    expect(wrong.attemptsLeft).toBeGreaterThan(0);
    const early = await failure(join({ meetingId: later.meetingId, userId: later.tutorId, passcode: later.passcode, clientKey: 'ip-t' }));
    expect(early.code).toBe('meeting_not_started');
    expect(early.retryAfterSeconds).toBeGreaterThan(0);
    expect((await failure(join({ meetingId: 'not-a-meeting', userId: a.tutorId, passcode: a.passcode }))).code).toBe('invalid_request');
    expect((await failure(list({ meetingId: a.meetingId, userId: randomUUID() }))).code).toBe('meeting_not_found');
    expect((await failure(attendance({ meetingId: a.meetingId, userId: randomUUID() }))).code).toBe('meeting_not_found');

    // Six joins at once into a mesh of four: exactly four get in.
    const full = await createMeeting(at('2026-03-02T10:00:00Z'));
    const attempts = await Promise.allSettled(
      [full.tutorId, full.studentId, full.tutorId, full.studentId, full.tutorId, full.studentId].map((userId, i) =>
        join({ meetingId: full.meetingId, userId, passcode: full.passcode, clientKey: `tab-${i}` }),
      ),
    );
    const joined = attempts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = attempts.flatMap((r) => (r.status === 'rejected' ? [(r.reason as ServiceError).code] : []));
    expect(joined).toHaveLength(4);
    expect(refused).toEqual(['meeting_full', 'meeting_full']);

    const tutorSession = joined.find((j) => j.userType === 'tutor')!.sessionId;
    const studentSession = joined.find((j) => j.userType === 'student')!.sessionId;
    const byStudent = { meetingId: full.meetingId, userId: full.studentId, sessionId: studentSession };
    expect((await failure(mute({ ...byStudent, targetSessionId: tutorSession, kind: 'audio', muted: true }))).code).toBe('forbidden');
    const byTutor = { meetingId: full.meetingId, userId: full.tutorId, sessionId: tutorSession, targetSessionId: studentSession };
    // The tutor may turn a student's camera off (tutor-controls.test.ts), never on again.
    expect((await failure(mute({ ...byTutor, kind: 'video', muted: false }))).code).toBe('forbidden');
    expect((await failure(mute({ ...byTutor, kind: 'audio', muted: false }))).code).toBe('forbidden');
    expect((await failure(mute({ ...byStudent, targetSessionId: 'no-such-session', kind: 'audio', muted: true }))).code).toBe('session_not_found');
    expect((await failure(mute({ ...byStudent, kind: 'loud', muted: true }))).code).toBe('invalid_request');

    expect(await rowsOf(a.meetingId)).toEqual([]);
    expect(await rowsOf(later.meetingId)).toEqual([]);
    expect(await participantEvents(a.meetingId)).toEqual([]);
    expect(await participantEvents(later.meetingId)).toEqual([]);
    const rows = await rowsOf(full.meetingId);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => !r.is_muted && !r.camera_off && r.left_at === null)).toBe(true);
    expect((await participantEvents(full.meetingId)).map((e) => e.type)).toEqual(Array(4).fill('participant.joined'));
  });

  it('a group lesson on the SFU takes all its people past the mesh limit; every student lists them, a stranger does not', async () => {
    clock.set('2026-03-02T12:00:00Z');
    const g = await createTestMeeting(h.nc, { start: at('2026-03-02T12:00:00Z'), students: 6 });
    const people = [g.tutorId, ...g.studentIds];
    const joined = await Promise.all(people.map((userId, i) => join({ meetingId: g.meetingId, userId, passcode: g.passcode, clientKey: `g-${i}` })));
    expect(joined.map((j) => j.userType)).toEqual(['tutor', ...Array(6).fill('student')]);
    expect(joined[0]?.meeting).toMatchObject({ mediaMode: 'sfu', studentIds: g.studentIds });
    const seen = await list({ meetingId: g.meetingId, userId: g.studentIds[5]! });
    expect(seen.participants).toHaveLength(7);
    // An eighth tab of the tutor finds no room somebody has not taken.
    expect((await failure(join({ meetingId: g.meetingId, userId: g.tutorId, passcode: g.passcode, clientKey: 'g-extra' }))).code).toBe('meeting_full');
    expect((await failure(list({ meetingId: g.meetingId, userId: randomUUID() }))).code).toBe('meeting_not_found');
    const byStudent = { meetingId: g.meetingId, userId: g.studentIds[3]!, sessionId: joined[4]!.sessionId };
    expect((await failure(mute({ ...byStudent, targetSessionId: joined[1]!.sessionId, kind: 'audio', muted: true }))).code).toBe('forbidden');
    const a = await attendance({ meetingId: g.meetingId, userId: g.studentIds[2]! });
    expect(a.attendance?.entries.map((e) => e.userId)).toEqual(people);
  });

  it('host control by user: the tutor mutes every tab of the student at once', async () => {
    clock.set('2026-03-02T12:00:00Z');
    const m = await createMeeting(at('2026-03-02T12:00:00Z'));
    const t = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode });
    const tabs = [];
    for (const _ of [1, 2]) {
      clock.advance(1_000);
      tabs.push(await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode }));
    }
    await mute({ meetingId: m.meetingId, userId: m.tutorId, sessionId: t.sessionId, targetUserId: m.studentId, kind: 'audio', muted: true });
    expect((await rowsOf(m.meetingId)).map((r) => [r.session_id, r.is_muted])).toEqual([[t.sessionId, false], ...tabs.map((x) => [x.sessionId, true])]);
    const changes = (await participantEvents(m.meetingId)).filter((e) => e.type === 'mute.changed');
    expect(changes.map((e) => e.body.sessionId).sort()).toEqual(tabs.map((x) => x.sessionId).sort());
  });

  it("one person's tabs never fill the mesh for the other: the student gets in past the tutor's four tabs", async () => {
    clock.set('2026-03-02T14:00:00Z');
    const m = await createMeeting(at('2026-03-02T14:00:00Z'));
    const tutorTabs = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(1_000);
      tutorTabs.push(await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode, clientKey: 'tutor-laptop' }));
    }
    // The mesh has no spare room: a fifth tab of the tutor is refused…
    expect((await failure(join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode, clientKey: 'tutor-laptop' }))).code).toBe('meeting_full');
    // …the student, who has no session yet, is not.
    clock.advance(1_000);
    const student = await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode, clientKey: 'student-phone' });
    expect(student.userType).toBe('student');
    expect(student.participants.map((p) => p.sessionId)).toEqual([...tutorTabs.map((t) => t.sessionId), student.sessionId]);
    // Another tab of the student only fits into spare room, like the tutor's.
    expect((await failure(join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode, clientKey: 'student-phone' }))).code).toBe('meeting_full');
    await leave({ meetingId: m.meetingId, userId: m.tutorId, sessionId: tutorTabs[0]!.sessionId });
    await leave({ meetingId: m.meetingId, userId: m.tutorId, sessionId: tutorTabs[1]!.sessionId });
    expect((await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode, clientKey: 'student-laptop' })).userType).toBe('student');
    const live = (await rowsOf(m.meetingId)).filter((r) => r.left_at === null);
    expect(live.map((r) => r.user_id).sort()).toEqual([m.tutorId, m.tutorId, m.studentId, m.studentId].sort());
    expect((await participantEvents(m.meetingId)).filter((e) => e.type === 'participant.joined')).toHaveLength(6);
  });

  it('a disconnect without resume times out into participant.left; a resume within the grace keeps the session and publishes nothing', async () => {
    clock.set('2026-03-03T09:59:00Z');
    const m = await createMeeting(at('2026-03-03T10:00:00Z'));
    const tutor = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode, gatewayId: 'gw-1' });
    const s1 = await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode, gatewayId: 'gw-1' });
    expect((await presence({ meetingId: m.meetingId, sessionId: s1.sessionId, state: 'connected', gatewayId: 'gw-1' })).live).toBe(true);

    clock.set('2026-03-03T10:01:00Z');
    expect((await presence({ meetingId: m.meetingId, sessionId: s1.sessionId, state: 'disconnected', gatewayId: 'gw-1' })).live).toBe(true);
    expect(await rowOf(s1.sessionId)).toMatchObject({ connected: false, left_at: null });
    clock.advance((graceSeconds - 1) * 1000);
    await participant.sweep();
    expect((await rowOf(s1.sessionId)).left_at).toBeNull();
    clock.advance(2_000);
    await participant.sweep();
    expect(await rowOf(s1.sessionId)).toMatchObject({ left_reason: 'timeout', left_at: at('2026-03-03T10:01:21Z') });
    // Too late to resume: the client joins anew.
    const late = await failure(join({ meetingId: m.meetingId, userId: m.studentId, resumeSessionId: s1.sessionId, resumeToken: s1.resumeToken }));
    expect(late.code).toBe('resume_rejected');
    expect((await presence({ meetingId: m.meetingId, sessionId: s1.sessionId, state: 'heartbeat', gatewayId: 'gw-1' })).live).toBe(false);

    const s2 = await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode, gatewayId: 'gw-1' });
    clock.advance(60_000);
    await presence({ meetingId: m.meetingId, sessionId: s2.sessionId, state: 'disconnected', gatewayId: 'gw-1' });
    clock.advance((graceSeconds - 5) * 1000);
    // Somebody else's token, or another user with the right one: refused.
    expect((await failure(join({ meetingId: m.meetingId, userId: m.studentId, resumeSessionId: s2.sessionId, resumeToken: tutor.resumeToken }))).code).toBe(
      'resume_rejected',
    );
    expect((await failure(join({ meetingId: m.meetingId, userId: m.tutorId, resumeSessionId: s2.sessionId, resumeToken: s2.resumeToken }))).code).toBe(
      'resume_rejected',
    );
    // The client comes back through another gateway replica.
    const resumed = await join({ meetingId: m.meetingId, userId: m.studentId, resumeSessionId: s2.sessionId, resumeToken: s2.resumeToken, gatewayId: 'gw-2' });
    expect(resumed).toMatchObject({ resumed: true, sessionId: s2.sessionId, resumeToken: s2.resumeToken, userType: 'student' });
    expect(resumed.participants.map((p) => p.sessionId)).toEqual([tutor.sessionId, s2.sessionId]);
    expect(resumed.iceServers).toHaveLength(1);
    // The old replica's late report of the socket it lost does not start a grace period.
    expect((await presence({ meetingId: m.meetingId, sessionId: s2.sessionId, state: 'disconnected', gatewayId: 'gw-1' })).live).toBe(true);
    clock.advance(5 * graceSeconds * 1000);
    await participant.sweep();
    expect(await rowOf(s2.sessionId)).toMatchObject({ left_at: null, connected: true, reconnects: 1, gateway_id: 'gw-2' });

    const events = await participantEvents(m.meetingId);
    expect(events.map((e) => e.ceId)).toEqual([
      `participant.joined:${tutor.sessionId}`,
      `participant.joined:${s1.sessionId}`,
      `participant.left:${s1.sessionId}`,
      `participant.joined:${s2.sessionId}`,
    ]);
    expect(events[2]?.body).toMatchObject({ reason: 'timeout' });
  });

  it('attendance with a resume, a rejoin and two tabs matches the hand-computed record, here and in meeting.ended', async () => {
    clock.set('2026-03-04T09:59:00Z');
    const m = await createMeeting(at('2026-03-04T10:00:00Z'));
    const base = { meetingId: m.meetingId, passcode: m.passcode };

    clock.set('2026-03-04T10:00:00Z');
    const t1 = await join({ ...base, userId: m.tutorId });
    clock.set('2026-03-04T10:02:00Z');
    const s1 = await join({ ...base, userId: m.studentId });
    clock.set('2026-03-04T10:05:00Z');
    const t2 = await join({ ...base, userId: m.tutorId }); // second tab
    clock.set('2026-03-04T10:10:00Z');
    await presence({ meetingId: m.meetingId, sessionId: s1.sessionId, state: 'disconnected' });
    clock.set('2026-03-04T10:10:10Z');
    await join({ meetingId: m.meetingId, userId: m.studentId, resumeSessionId: s1.sessionId, resumeToken: s1.resumeToken });
    clock.set('2026-03-04T10:15:00Z');
    await leave({ meetingId: m.meetingId, sessionId: t2.sessionId, userId: m.tutorId });
    clock.set('2026-03-04T10:20:00Z');
    await presence({ meetingId: m.meetingId, sessionId: s1.sessionId, state: 'disconnected' });
    clock.set('2026-03-04T10:20:30Z');
    await participant.sweep();
    clock.set('2026-03-04T10:21:00Z');
    const s2 = await join({ ...base, userId: m.studentId });
    clock.set('2026-03-04T10:40:00Z');
    await meetings().endMeeting({ meetingId: m.meetingId, userId: m.tutorId });

    // meeting.ended closes the sessions still live.
    await expect.poll(async () => (await rowsOf(m.meetingId)).filter((r) => r.left_at === null).length, { timeout: 10_000 }).toBe(0);
    const rows = await rowsOf(m.meetingId);
    expect(rows.filter((r) => r.left_reason === 'ended').map((r) => r.session_id)).toEqual([t1.sessionId, s2.sessionId]);

    // Tutor: 10:00–10:40 and 10:05–10:15 in a second tab → 40 min once.
    // Student: 10:02–10:20 (a resumed blip at 10:10 counts; the timed-out session ends when its
    // socket went, 10:20:00) and 10:21–10:40 → 18 + 19 min; one resume + one rejoin.
    const expected = [
      { userId: m.tutorId, userType: 'tutor', first: '2026-03-04T10:00:00.000Z', connectedSeconds: 40 * 60, sessions: 2, reconnects: 0 },
      { userId: m.studentId, userType: 'student', first: '2026-03-04T10:02:00.000Z', connectedSeconds: 37 * 60, sessions: 2, reconnects: 2 },
    ];
    const record = (await attendance({ meetingId: m.meetingId, userId: m.studentId })).attendance!;
    expect(
      record.entries.map((e) => ({
        userId: e.userId,
        userType: e.userType,
        first: timestampDate(e.firstJoinedAt!).toISOString(),
        last: timestampDate(e.lastLeftAt!).toISOString(),
        connectedSeconds: e.connectedSeconds,
        sessions: e.sessions,
        reconnects: e.reconnects,
      })),
    ).toEqual(expected.map((x) => ({ ...x, last: '2026-03-04T10:40:00.000Z' })));
    expect((await attendance({ meetingId: m.meetingId, actorIsService: true })).attendance?.entries).toEqual(record.entries);

    // The meeting service asked for it at 10:40, while the two last sessions were still live.
    const ended = (await eventsOf('MEETINGS', m.meetingId)).find((e) => e.type === 'meeting.ended');
    expect(ended).toBeDefined();
    const entries = (ended!.body.attendance as { entries: Record<string, unknown>[] }).entries;
    expect(entries.map((e) => ({ userId: e.userId, connectedSeconds: e.connectedSeconds, sessions: e.sessions, reconnects: e.reconnects }))).toEqual(
      expected.map(({ userId, connectedSeconds, sessions, reconnects }) => ({ userId, connectedSeconds, sessions, reconnects })),
    );

    const left = (await participantEvents(m.meetingId)).filter((e) => e.type === 'participant.left');
    const closes = left.map((e) => `${(e.body.participant as { sessionId: string }).sessionId}:${e.body.reason}`);
    expect(closes.slice(0, 2)).toEqual([`${t2.sessionId}:left`, `${s1.sessionId}:timeout`]);
    // Closed together, published concurrently.
    expect(closes.slice(2).sort()).toEqual([`${t1.sessionId}:ended`, `${s2.sessionId}:ended`].sort());
  });

  it('a cancelled meeting closes its live sessions', async () => {
    clock.set('2026-03-05T09:59:00Z');
    const m = await createMeeting(at('2026-03-05T10:00:00Z'));
    const t = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode });
    await publishEvent(h.js, subjects.bookingCancelled, BookingCancelledSchema, { bookingId: m.bookingId, reason: 'student ill' }, { source: 'test' });
    await expect.poll(async () => (await rowOf(t.sessionId)).left_reason, { timeout: 10_000 }).toBe('ended');
    expect((await participantEvents(m.meetingId)).map((e) => e.ceId)).toEqual([`participant.joined:${t.sessionId}`, `participant.left:${t.sessionId}`]);
  });

  it("the meeting service publishes meeting.no_show once from this service's attendance, naming who never joined, across replicas", async () => {
    clock.set('2026-03-06T09:55:00Z');
    const start = at('2026-03-06T10:00:00Z');
    const [studentMissing, bothThere, cancelled] = [await createMeeting(start), await createMeeting(start), await createMeeting(start)];
    clock.set('2026-03-06T10:01:00Z');
    await join({ meetingId: studentMissing.meetingId, userId: studentMissing.tutorId, passcode: studentMissing.passcode });
    await join({ meetingId: bothThere.meetingId, userId: bothThere.tutorId, passcode: bothThere.passcode });
    await join({ meetingId: bothThere.meetingId, userId: bothThere.studentId, passcode: bothThere.passcode });
    await publishEvent(h.js, subjects.bookingCancelled, BookingCancelledSchema, { bookingId: cancelled.bookingId, reason: 'x' }, { source: 'test' });
    await expect
      .poll(async () => (await eventsOf('MEETINGS', cancelled.meetingId)).some((e) => e.type === 'meeting.cancelled'), { timeout: 10_000 })
      .toBe(true);

    const noShows = async (m: Meeting) => (await eventsOf('MEETINGS', m.meetingId)).filter((e) => e.type === 'meeting.no_show');
    clock.set('2026-03-06T10:09:59Z');
    await meetingService.sweep();
    expect(await noShows(studentMissing)).toEqual([]);

    clock.set('2026-03-06T10:10:00Z');
    const replica = await startMeetingService(
      loadMeetingConfig({ ...h.natsEnv('meeting'), HEALTH_PORT: '0', DATABASE_URL: h.postgres!.url, SWEEP_INTERVAL_MS: '3600000' }),
      {
        clock,
        logger,
        telemetry: false,
      },
    );
    try {
      await Promise.all([meetingService.sweep(), replica.sweep()]);
      clock.advance(60_000);
      await Promise.all([meetingService.sweep(), replica.sweep()]);
    } finally {
      await replica.stop();
    }
    const published = await noShows(studentMissing);
    expect(published).toHaveLength(1);
    expect(published[0]?.ceId).toBe(`meeting.no_show:${studentMissing.meetingId}`);
    expect(published[0]?.body).toMatchObject({
      meeting: { meetingId: studentMissing.meetingId },
      missingUserIds: [studentMissing.studentId],
      missingUserTypes: ['student'],
    });
    expect(await noShows(bothThere)).toEqual([]);
    expect(await noShows(cancelled)).toEqual([]);
    // The participant service's own sweep publishes no no-show any more.
    await participant.sweep();
    expect(await noShows(bothThere)).toEqual([]);
  });

  it('keeps its own projection of each meeting from the MEETINGS stream, and a join that beats meeting.created fills it', async () => {
    clock.set('2026-03-09T09:00:00Z');
    const m = await createMeeting(at('2026-03-09T10:00:00Z'));
    await expect.poll(async () => (await projected(m.meetingId))?.status, { timeout: 10_000 }).toBe('pending');
    expect(await projected(m.meetingId)).toMatchObject({ tutor_id: m.tutorId, student_id: m.studentId, scheduled_start: at('2026-03-09T10:00:00Z') });

    // A reschedule moves the window in the projection too.
    await publishEvent(
      h.js,
      subjects.bookingRescheduled,
      BookingRescheduledSchema,
      { bookingId: m.bookingId, scheduledStart: timestampFromDate(at('2026-03-09T09:30:00Z')), scheduledEnd: timestampFromDate(at('2026-03-09T10:30:00Z')) },
      { source: 'test' },
    );
    await expect.poll(async () => (await projected(m.meetingId))?.scheduled_start, { timeout: 10_000 }).toEqual(at('2026-03-09T09:30:00Z'));

    // As if meeting.created had not arrived yet: the join records what verify_join answered.
    await h.db!.asService((tx) => tx.query('delete from participant_meetings where meeting_id = $1', [m.meetingId]));
    clock.set('2026-03-09T09:20:00Z');
    const t = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode });
    // The row is back, with the window verify_join answered. Its status is pending, or already
    // active when meeting.started (which this join set off) has overtaken this read (seen in CI).
    const filled = await projected(m.meetingId);
    expect(filled).toMatchObject({ scheduled_start: at('2026-03-09T09:30:00Z') });
    expect(['pending', 'active']).toContain(filled?.status);
    // meeting.started (from the meeting service, on the first participant.joined) moves it on.
    await expect.poll(async () => (await projected(m.meetingId))?.status, { timeout: 10_000 }).toBe('active');
    // A resume answers the meeting from the projection, join window included.
    const resumed = await join({ meetingId: m.meetingId, userId: m.tutorId, resumeSessionId: t.sessionId, resumeToken: t.resumeToken });
    expect(resumed.meeting).toMatchObject({ meetingId: m.meetingId, status: 'active' });
    expect(resumed.meeting?.joinableFrom).toBeDefined();

    await meetings().endMeeting({ meetingId: m.meetingId, userId: m.tutorId });
    await expect.poll(async () => (await projected(m.meetingId))?.status, { timeout: 10_000 }).toBe('completed');
    expect((await rowOf(t.sessionId)).left_reason).toBe('ended');
  });

  it('a list that beats meeting.created here asks the owner for the meeting; a stranger learns nothing either way', async () => {
    clock.set('2026-03-09T10:00:00Z');
    const m = await createMeeting(at('2026-03-09T11:00:00Z'));
    await expect.poll(async () => (await projected(m.meetingId))?.status, { timeout: 10_000 }).toBe('pending');
    const unproject = () => h.db!.asService((tx) => tx.query('delete from participant_meetings where meeting_id = $1', [m.meetingId]));

    await unproject();
    expect((await list({ meetingId: m.meetingId, userId: m.studentId })).participants).toEqual([]);
    expect(await projected(m.meetingId)).toMatchObject({ status: 'pending', tutor_id: m.tutorId });

    await unproject();
    expect((await failure(list({ meetingId: m.meetingId, userId: randomUUID() }))).code).toBe('meeting_not_found');
    expect((await failure(list({ meetingId: 'MID-NOSUCHMEETING000', userId: m.tutorId }))).code).toBe('meeting_not_found');
    await unproject();
    expect((await attendance({ meetingId: m.meetingId, userId: m.tutorId })).attendance?.entries.map((e) => e.sessions)).toEqual([0, 0]);
  });

  it('an older snapshot of a meeting never overwrites a newer one, and a closed meeting stays closed', async () => {
    clock.set('2026-03-09T12:00:00Z');
    const m = await createMeeting(at('2026-03-09T13:00:00Z'));
    await expect.poll(async () => (await projected(m.meetingId))?.status, { timeout: 10_000 }).toBe('pending');
    const snapshot = (status: string, updatedAt: string, start: string) =>
      create(MeetingSchema, {
        meetingId: m.meetingId,
        tutorId: m.tutorId,
        studentId: m.studentId,
        status,
        scheduledStart: timestampFromDate(at(start)),
        scheduledEnd: timestampFromDate(new Date(at(start).getTime() + 3_600_000)),
        updatedAt: timestampFromDate(at(updatedAt)),
      });
    const apply = (s: ReturnType<typeof snapshot>) => h.db!.asService((tx) => applyMeeting(tx, s));
    await apply(snapshot('pending', '2026-03-09T12:10:00Z', '2026-03-09T14:00:00Z'));
    await apply(snapshot('pending', '2026-03-09T12:05:00Z', '2026-03-09T15:00:00Z'));
    expect(await projected(m.meetingId)).toMatchObject({ status: 'pending', scheduled_start: at('2026-03-09T14:00:00Z') });
    // Further along the lifecycle wins whatever its clock says…
    await apply(snapshot('cancelled', '2026-03-09T12:01:00Z', '2026-03-09T14:00:00Z'));
    // …and nothing reopens a closed meeting.
    await apply(snapshot('active', '2026-03-09T12:20:00Z', '2026-03-09T14:00:00Z'));
    expect((await projected(m.meetingId))?.status).toBe('cancelled');
    // A snapshot that is no meeting is refused by name.
    const bad = await h
      .db!.asService((tx) =>
        applyMeeting(tx, create(MeetingSchema, { ...snapshot('pending', '2026-03-09T12:30:00Z', '2026-03-09T14:00:00Z'), status: 'open' })),
      )
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'invalid_request' });
  });

  it('answers attendance to the meeting service for a meeting it has not projected: both people, no sessions', async () => {
    clock.set('2026-03-09T15:00:00Z');
    const m = await createMeeting(at('2026-03-09T16:00:00Z'));
    await expect.poll(async () => (await projected(m.meetingId))?.status, { timeout: 10_000 }).toBe('pending');
    await h.db!.asService((tx) => tx.query('delete from participant_meetings where meeting_id = $1', [m.meetingId]));
    expect((await failure(attendance({ meetingId: m.meetingId, actorIsService: true }))).code).toBe('meeting_not_found');
    const r = await attendance({ meetingId: m.meetingId, actorIsService: true, tutorId: m.tutorId, studentId: m.studentId });
    expect(r.attendance?.entries.map((e) => [e.userId, e.userType, e.sessions])).toEqual([
      [m.tutorId, 'tutor', 0],
      [m.studentId, 'student', 0],
    ]);
    // Only the owner may say who the people are: a user naming themselves still goes through RLS.
    const stranger = randomUUID();
    expect((await failure(attendance({ meetingId: m.meetingId, userId: stranger, tutorId: stranger, studentId: m.studentId }))).code).toBe('meeting_not_found');
  });

  it('a service restart loses no session', async () => {
    clock.set('2026-03-07T09:59:00Z');
    const m = await createMeeting(at('2026-03-07T10:00:00Z'));
    const t = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode });
    clock.advance(1_000);
    const s = await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode });
    await participant.stop();
    participant = await startParticipantService(participantConfig, { clock, logger, telemetry: false });

    const live = await participants().liveSessions({ meetingId: m.meetingId });
    expect(live.sessions.map((x) => [x.sessionId, x.userId])).toEqual([
      [t.sessionId, m.tutorId],
      [s.sessionId, m.studentId],
    ]);
    const all = await participants().liveSessions({});
    expect(all.sessions.filter((x) => x.meetingId === m.meetingId)).toHaveLength(2);
    const resumed = await join({ meetingId: m.meetingId, userId: m.studentId, resumeSessionId: s.sessionId, resumeToken: s.resumeToken });
    expect(resumed).toMatchObject({ resumed: true, sessionId: s.sessionId });
    await leave({ meetingId: m.meetingId, sessionId: t.sessionId, userId: m.tutorId });
    expect((await participantEvents(m.meetingId)).map((e) => e.ceId)).toEqual([
      `participant.joined:${t.sessionId}`,
      `participant.joined:${s.sessionId}`,
      `participant.left:${t.sessionId}`,
    ]);
  });

  it('with PRESENCE_STALE_SECONDS, a session nobody reports on any more is treated as gone since its last report', async () => {
    clock.set('2026-03-07T11:59:00Z');
    const m = await createMeeting(at('2026-03-07T12:00:00Z'));
    const replica = await startParticipantService({ ...participantConfig, PRESENCE_STALE_SECONDS: 60 }, { clock, logger, telemetry: false });
    try {
      const s = await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode, gatewayId: 'gw-dead' });
      clock.advance(50_000);
      expect((await presence({ meetingId: m.meetingId, sessionId: s.sessionId, state: 'heartbeat', gatewayId: 'gw-dead' })).live).toBe(true);
      clock.advance(59_000);
      await replica.sweep();
      expect((await rowOf(s.sessionId)).left_at).toBeNull();
      // The gateway died: no heartbeat, no disconnect. 60 s after the last report it is stale,
      // and the grace period counted from that report has long passed.
      clock.advance(1_000);
      await replica.sweep();
      expect(await rowOf(s.sessionId)).toMatchObject({ left_reason: 'timeout', connected: false });
      const [, student] = (await attendance({ meetingId: m.meetingId, actorIsService: true })).attendance!.entries;
      expect(student?.connectedSeconds).toBe(50);
    } finally {
      await replica.stop();
    }
  });

  it('joins without ICE servers when the TURN service does not answer', async () => {
    clock.set('2026-03-08T09:59:00Z');
    const m = await createMeeting(at('2026-03-08T10:00:00Z'));
    await turn.stop();
    // A TURN replica that takes the request and never answers: the join waits TURN_TIMEOUT_MS only.
    const silent = h.nc.subscribe(rpcSubject(TurnRpc.method.turnCredentials), { queue: rpcQueue(TurnRpc) });
    const started = performance.now();
    const slow = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(slow.iceServers).toEqual([]);
    silent.unsubscribe();
    // Nobody at all: no wait.
    const none = await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode });
    expect(none.iceServers).toEqual([]);
    expect(none.iceTtlSeconds).toBe(0);
    expect(none.participants).toHaveLength(2);
  });
  it('joins racing the end of the meeting: none stays open after it, and each is either closed by the end or refused with meeting_ended', async () => {
    clock.set('2026-03-06T10:00:00Z');
    const m = await createMeeting(at('2026-03-06T10:00:00Z'));
    const base = { meetingId: m.meetingId, passcode: m.passcode };
    await join({ ...base, userId: m.tutorId, clientKey: 'race-0' });
    const users = [m.studentId, m.tutorId, m.studentId];
    const [ended, ...raced] = await Promise.allSettled([
      meetings().endMeeting({ meetingId: m.meetingId, userId: m.tutorId }),
      ...users.map((userId, i) => join({ ...base, userId, clientKey: `race-${i + 1}` })),
    ]);
    expect(ended.status).toBe('fulfilled');
    const refusals = raced.flatMap((r) => (r.status === 'rejected' ? [(r.reason as ServiceError).code] : []));
    expect(refusals.every((code) => code === 'meeting_ended')).toBe(true);
    // meeting.ended closes whatever joined before it; what joined after it was refused.
    await expect.poll(async () => (await rowsOf(m.meetingId)).filter((r) => r.left_at === null).length, { timeout: 10_000 }).toBe(0);
    const rows = await rowsOf(m.meetingId);
    expect(rows).toHaveLength(1 + raced.length - refusals.length);
    expect(rows.every((r) => r.left_reason === 'ended')).toBe(true);
    expect((await failure(join({ ...base, userId: m.studentId, clientKey: 'race-late' }))).code).toBe('meeting_ended');
  });

  /**
   * One way to publish (issue 11): every event is written in the transaction of its change and
   * published after it. Here the stream refuses every publish (a message size limit of one byte) — a bus that
   * does not take the event, as in a JetStream outage — while joins and leaves commit.
   */
  it('an event the bus did not take is published later, once, in order: by the retry or by the sweep', async () => {
    clock.set('2026-03-08T10:00:00Z');
    const m = await createMeeting(at('2026-03-08T10:00:00Z'));
    const stream = 'PARTICIPANTS';
    const open = (await h.jsm.streams.info(stream)).config;
    // Every event is larger than a byte: the stream answers each publish with an error.
    const refusePublishes = () => h.jsm.streams.update(stream, { max_msg_size: 1 });
    const takePublishes = () => h.jsm.streams.update(stream, { max_msg_size: open.max_msg_size });
    // What is still owed once the published events are cleared (a batched delete after the publish).
    const owed = async () => {
      await participant.outboxSettled();
      return (
        await h.db!.asService((tx) =>
          tx.query<{ event_id: string }>('select event_id from video_participant_outbox where meeting_id = $1 order by seq', [m.meetingId]),
        )
      ).rows.map((r) => r.event_id);
    };
    try {
      // A join whose participant.joined the bus refuses: the session is closed again, both events owed.
      await refusePublishes();
      expect((await failure(join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode }))).code).toBe('unavailable');
      const [lost] = await rowsOf(m.meetingId);
      expect(lost).toMatchObject({ left_reason: 'left' });
      expect(await owed()).toEqual([`participant.joined:${lost!.session_id}`, `participant.left:${lost!.session_id}`]);
      await takePublishes();

      // A leave the bus refuses: kept, answered `unavailable`; the user's retry publishes it.
      const student = await join({ meetingId: m.meetingId, userId: m.studentId, passcode: m.passcode });
      clock.advance(1_000);
      await refusePublishes();
      const leaving = { meetingId: m.meetingId, sessionId: student.sessionId, userId: m.studentId };
      expect((await failure(leave(leaving))).code).toBe('unavailable');
      expect((await rowOf(student.sessionId)).left_reason).toBe('left');
      await takePublishes();
      expect((await leave(leaving)).participant?.leftReason).toBe('left');

      // What nobody retried, the sweep relays once it is older than OUTBOX_RELAY_AFTER_MS.
      expect((await participant.sweep()).relayed).toBe(0);
      clock.advance(participantConfig.OUTBOX_RELAY_AFTER_MS + 1_000);
      expect((await participant.sweep()).relayed).toBe(0); // the retried leave took everything owed
      expect(await owed()).toEqual([]);
      // Each session's events once, joined before left (the student's joined went out at once).
      const ofSession = async (sessionId: string) =>
        (await participantEvents(m.meetingId)).filter((e) => e.ceId.endsWith(sessionId)).map((e) => [e.ceId, e.body.reason ?? '']);
      expect(await ofSession(lost!.session_id)).toEqual([
        [`participant.joined:${lost!.session_id}`, ''],
        [`participant.left:${lost!.session_id}`, 'left'],
      ]);
      expect(await ofSession(student.sessionId)).toEqual([
        [`participant.joined:${student.sessionId}`, ''],
        [`participant.left:${student.sessionId}`, 'left'],
      ]);

      // A session that times out while the bus refuses: the sweep's own next pass relays it.
      const tutor = await join({ meetingId: m.meetingId, userId: m.tutorId, passcode: m.passcode, gatewayId: 'gw-outbox' });
      await presence({ meetingId: m.meetingId, sessionId: tutor.sessionId, gatewayId: 'gw-outbox', state: 'disconnected' });
      clock.advance((graceSeconds + 1) * 1000);
      await refusePublishes();
      expect((await participant.sweep()).timedOut).toBe(1);
      expect(await owed()).toEqual([`participant.left:${tutor.sessionId}`]);
      await takePublishes();
      clock.advance(participantConfig.OUTBOX_RELAY_AFTER_MS + 1_000);
      expect((await participant.sweep()).relayed).toBe(1);
      expect(await owed()).toEqual([]);
      expect(await ofSession(tutor.sessionId)).toEqual([
        [`participant.joined:${tutor.sessionId}`, ''],
        [`participant.left:${tutor.sessionId}`, 'timeout'],
      ]);
      expect(new Set((await participantEvents(m.meetingId)).map((e) => e.source))).toEqual(new Set(['/lessoncall/participant']));
    } finally {
      await takePublishes();
    }
  });
  it('a join repeated with its key (the answer lost) is the same session, announced once; another key or user is another session', async () => {
    clock.set('2026-03-09T10:00:00Z');
    const m = await createMeeting(at('2026-03-09T10:00:00Z'));
    const base = { meetingId: m.meetingId, passcode: m.passcode, gatewayId: 'gw-a' };
    const key = randomUUID();
    const first = await join({ ...base, userId: m.tutorId, joinKey: key });
    clock.advance(2_000);
    // The retry of a client that never saw `first` (through another gateway), and one racing it.
    const [again, racing] = await Promise.all([
      join({ ...base, userId: m.tutorId, joinKey: key, gatewayId: 'gw-b' }),
      join({ ...base, userId: m.tutorId, joinKey: key, gatewayId: 'gw-b' }),
    ]);
    for (const r of [again, racing]) {
      expect(r).toMatchObject({ sessionId: first.sessionId, resumeToken: first.resumeToken, userType: 'tutor', resumed: false });
      expect(r.participants.map((p) => p.sessionId)).toEqual([first.sessionId]);
    }
    const [row] = await rowsOf(m.meetingId);
    expect(row).toMatchObject({ session_id: first.sessionId, reconnects: 0, gateway_id: 'gw-b', left_at: null });
    expect((await participantEvents(m.meetingId)).map((e) => e.ceId)).toEqual([`participant.joined:${first.sessionId}`]);

    // The same key is the user's own: the student's join with it, or the tutor's with another, is a new session.
    const student = await join({ ...base, userId: m.studentId, joinKey: key });
    const secondTab = await join({ ...base, userId: m.tutorId, joinKey: randomUUID() });
    expect(new Set([first.sessionId, student.sessionId, secondTab.sessionId]).size).toBe(3);
    const tutorEntry = (await attendance({ meetingId: m.meetingId, userId: m.tutorId })).attendance?.entries.find((e) => e.userId === m.tutorId);
    expect(tutorEntry?.sessions).toBe(2);

    // A key whose session has ended since cannot bring it back: conflict, and nothing is recorded.
    await leave({ meetingId: m.meetingId, sessionId: first.sessionId, userId: m.tutorId });
    const refused = await failure(join({ ...base, userId: m.tutorId, joinKey: key }));
    expect({ code: refused.code, field: refused.field }).toEqual({ code: 'conflict', field: 'joinKey' });
    expect(await rowsOf(m.meetingId)).toHaveLength(3);
    // A key that is not one is refused before anything happens.
    expect((await failure(join({ ...base, userId: m.tutorId, joinKey: 'has space' }))).field).toBe('joinKey');
    expect((await failure(join({ ...base, userId: m.tutorId, joinKey: 'k'.repeat(129) }))).code).toBe('invalid_request');
  });
});
