import { decode, ManualClock } from '@lessoncall/kit';
import type { Harness } from '@lessoncall/kit/testing';
import { ParticipantLeftSchema, type ParticipantLeft, subjects, wsCloseCodes } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse, type Backend, call, startTwoGatewayStack, type TestGateway, type TestMeeting, type TwoGatewayStack } from './helpers';
import { HelloError, joinAs, type WsClient } from './ws-client';

const askIntervalSeconds = 15;
const stranger = '33333333-3333-4333-8333-333333333333';

/**
 * The tutor's controls end to end: the real gateway (REST and WebSocket), participant and meeting
 * services, NATS with the permission matrix enforced, Postgres. "Nothing arrived" is proven with a
 * sentinel sent after the message that must not arrive.
 */
describe('tutor controls: remove, ask to unmute, camera off', () => {
  let stack: TwoGatewayStack;
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  /** A second gateway replica: the student's other tab is held there. */
  let gw2: TestGateway;
  let checker: TwoGatewayStack['checker'];
  // The participant service's clock: the ask-to-unmute interval passes without sleeping.
  const clock = new ManualClock(new Date());
  let clients: TwoGatewayStack['clients'];

  beforeAll(async () => {
    stack = await startTwoGatewayStack({ clock, participant: { UNMUTE_ASK_INTERVAL_SECONDS: String(askIntervalSeconds) } });
    ({ h, backend, gw, gw2, checker, clients } = stack);
  });
  afterAll(() => stack?.stop());

  async function joined(m: TestMeeting, who: 'tutor' | 'student', extra: Parameters<typeof joinAs>[3] = {}) {
    const j = await joinAs(gw, m, who, extra);
    clients.push(j.c);
    return j;
  }

  async function rest(method: string, path: string, userId: string, body?: unknown): Promise<ApiResponse> {
    const res = await call(gw.url, method, path, { token: await gw.tokenFor(userId), ...(body === undefined ? {} : { body }) });
    checker.check(method, path, res);
    return res;
  }

  const helloError = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('the hello was accepted');
      },
      (e: unknown) => {
        if (!(e instanceof HelloError)) throw e;
        return e.code;
      },
    );

  /** The sentinel: a chat line from `from`, which `to` must see next. */
  async function sentinel(from: WsClient, to: WsClient[], id: string) {
    from.send({ requestId: id, kind: { case: 'chatSend', value: { clientMessageId: id, text: id } } });
    await from.next('chat', (v) => v.message?.clientMessageId === id);
    for (const c of to) await c.next('chat', (v) => v.message?.clientMessageId === id);
  }

  it('only the tutor may remove, ask to unmute, allow back or turn a camera off: the student gets not_tutor, anyone else meeting_not_found', async () => {
    const m = await backend.createMeeting();
    const other = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student', { audioMuted: true });

    // Over the WebSocket, the student towards the tutor.
    student.c.send({ requestId: 'rm', kind: { case: 'removeParticipant', value: { targetSessionId: tutor.sessionId } } });
    expect((await student.c.error('not_tutor')).requestId).toBe('rm');
    student.c.send({ requestId: 'ask', kind: { case: 'askUnmute', value: { targetSessionId: tutor.sessionId } } });
    expect((await student.c.error('not_tutor')).requestId).toBe('ask');
    student.c.send({ requestId: 'allow', kind: { case: 'allowRejoin', value: { userId: m.studentId } } });
    expect((await student.c.error('not_tutor')).requestId).toBe('allow');
    student.c.send({ requestId: 'cam', kind: { case: 'media', value: { kind: 'video', muted: true, targetSessionId: tutor.sessionId } } });
    expect((await student.c.error('forbidden')).requestId).toBe('cam');

    // Over REST: the student, another meeting's tutor, a stranger; and no token at all.
    const removePath = `/api/video/meetings/${m.meetingId}/participants/${student.sessionId}/remove`;
    const askPath = `/api/video/meetings/${m.meetingId}/participants/${student.sessionId}/ask-unmute`;
    const allowPath = `/api/video/meetings/${m.meetingId}/removals/${m.studentId}/allow`;
    for (const path of [removePath, askPath, allowPath]) {
      const own = await rest('POST', path.replace(student.sessionId, tutor.sessionId), m.studentId);
      expect([own.status, own.body.code]).toEqual([403, 'not_tutor']);
      for (const outsider of [other.tutorId, stranger]) {
        const res = await rest('POST', path, outsider);
        expect([res.status, res.body.code]).toEqual([404, 'meeting_not_found']);
      }
      expect((await call(gw.url, 'POST', path)).status).toBe(401);
    }
    // The tutor cannot remove themselves (they leave instead), nor ask a session that does not exist.
    const self = await rest('POST', removePath.replace(student.sessionId, tutor.sessionId), m.tutorId);
    expect([self.status, self.body.code]).toEqual([400, 'invalid_request']);
    const missing = await rest('POST', askPath.replace(student.sessionId, 'nosuchsession'), m.tutorId);
    expect([missing.status, missing.body.code]).toEqual([404, 'session_not_found']);

    // Nothing happened: the student is still in, still muted, and no prompt reached anyone.
    await sentinel(tutor.c, [student.c], 'after-refusals');
    expect(student.c.pending('unmuteAsked')).toEqual([]);
    expect(student.c.pending('removed')).toEqual([]);
    const list = await rest('GET', `/api/video/meetings/${m.meetingId}/participants`, m.tutorId);
    expect(
      list.body.participants.map((p: { sessionId: string; isMuted: boolean; cameraOff: boolean }) => [p.sessionId, p.isMuted, p.cameraOff]).sort(),
    ).toEqual(
      [
        [student.sessionId, true, false],
        [tutor.sessionId, false, false],
      ].sort(),
    );
  });

  it('a removed student is told why, every tab is closed, and neither a resume nor a fresh join gets back in until the tutor allows it', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    // On the other replica: the removal reaches it through the bus.
    const secondTab = await joined(m, 'student', { via: gw2 });
    const left: ParticipantLeft[] = [];
    const events = h.nc.subscribe(subjects.participantLeft(m.meetingId), {
      callback: (_e, msg) => {
        left.push(decode(ParticipantLeftSchema, msg.data));
      },
    });
    await h.nc.flush();

    tutor.c.send({ requestId: 'remove-1', kind: { case: 'removeParticipant', value: { targetSessionId: student.sessionId } } });
    const reply = await tutor.c.next('participantRemoved');
    expect(reply.requestId).toBe('remove-1');
    expect(reply.removedUserId).toBe(m.studentId);
    expect(reply.closed.map((p) => [p.sessionId, p.leftReason]).sort()).toEqual(
      [
        [student.sessionId, 'removed'],
        [secondTab.sessionId, 'removed'],
      ].sort(),
    );

    // Both of the student's sockets: why, then a close that says "do not come back".
    for (const tab of [student, secondTab]) {
      const notice = await tab.c.next('removed');
      expect(notice).toMatchObject({ meetingId: m.meetingId, byUserId: m.tutorId, message: 'The tutor removed you from this lesson' });
      expect((await tab.c.closed).code).toBe(wsCloseCodes.removed);
    }
    // The tutor sees both leave, with the reason.
    for (let i = 0; i < 2; i++) expect((await tutor.c.next('peerLeft')).reason).toBe('removed');
    // The booking platform's event: participant.left with reason removed and who removed them, once per session.
    await expect.poll(() => left.length).toBe(2);
    expect(left.map((e) => [e.participant?.sessionId, e.reason, e.removedByUserId]).sort()).toEqual(
      [
        [student.sessionId, 'removed', m.tutorId],
        [secondTab.sessionId, 'removed', m.tutorId],
      ].sort(),
    );
    events.unsubscribe();

    // The removed session cannot be resumed, and the student cannot join afresh (WebSocket and REST).
    expect(await helloError(joined(m, 'student', { resume: { sessionId: student.sessionId, resumeToken: student.welcome.resumeToken } }))).toBe(
      'removed_from_meeting',
    );
    expect(await helloError(joined(m, 'student'))).toBe('removed_from_meeting');
    const restJoin = await rest('POST', `/api/video/meetings/${m.meetingId}/join`, m.studentId, { passcode: m.passcode });
    expect([restJoin.status, restJoin.body.code]).toEqual([403, 'removed_from_meeting']);

    // Removing again is harmless: the same user, nothing more closed.
    const again = await rest('POST', `/api/video/meetings/${m.meetingId}/participants/${student.sessionId}/remove`, m.tutorId);
    expect([again.status, again.body.removedUserId, again.body.closed]).toEqual([200, m.studentId, []]);

    // Who is removed: the meeting's tutor and student read it (REST), a stranger does not; and a
    // tutor who reloads is told after the welcome, so "allow back" survives it.
    const removalsPath = `/api/video/meetings/${m.meetingId}/removals`;
    for (const userId of [m.tutorId, m.studentId]) {
      const res = await rest('GET', removalsPath, userId);
      expect(
        res.body.removed.map((r: { userId: string; displayName: string; removedByUserId: string }) => [r.userId, r.displayName, r.removedByUserId]),
      ).toEqual([[m.studentId, 'student', m.tutorId]]);
    }
    expect((await rest('GET', removalsPath, stranger)).status).toBe(404);
    const reloaded = await joined(m, 'tutor');
    expect((await reloaded.c.next('removals')).removed.map((r) => r.userId)).toEqual([m.studentId]);

    // Attendance: the student's two sessions, each ended at the removal.
    const attendance = await rest('GET', `/api/video/meetings/${m.meetingId}/attendance`, m.tutorId);
    const studentAttendance = attendance.body.attendance.entries.find((e: { userId: string }) => e.userId === m.studentId);
    expect(studentAttendance.sessions).toBe(2);
    // The participant service's (manual) clock has not moved in this test: the removal happened at its now.
    expect(new Date(studentAttendance.lastLeftAt).getTime()).toBe(clock.now().getTime());

    // The tutor lets the student back: a fresh join works; the removed session stays closed.
    tutor.c.send({ requestId: 'allow-1', kind: { case: 'allowRejoin', value: { userId: m.studentId } } });
    expect(await tutor.c.next('rejoinAllowed')).toMatchObject({ requestId: 'allow-1', userId: m.studentId, wasRemoved: true });
    const lifted = await rest('POST', `/api/video/meetings/${m.meetingId}/removals/${m.studentId}/allow`, m.tutorId);
    expect([lifted.status, lifted.body.wasRemoved]).toEqual([200, false]);
    expect(await helloError(joined(m, 'student', { resume: { sessionId: student.sessionId, resumeToken: student.welcome.resumeToken } }))).toBe(
      'removed_from_meeting',
    );
    expect((await rest('GET', removalsPath, m.tutorId)).body.removed).toEqual([]);
    const back = await joined(m, 'student');
    expect((await tutor.c.next('peerJoined', (v) => v.participant?.sessionId === back.sessionId)).participant?.userId).toBe(m.studentId);
  });

  it('joins racing a removal: each is refused or closed by it, and none of the student stays in', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    const joinPath = `/api/video/meetings/${m.meetingId}/join`;
    const [removal, ...joins] = await Promise.all([
      rest('POST', `/api/video/meetings/${m.meetingId}/participants/${student.sessionId}/remove`, m.tutorId),
      // The mesh holds 4: the tutor, the student's tab, and two more of the student's.
      ...[1, 2].map(() => rest('POST', joinPath, m.studentId, { passcode: m.passcode })),
    ]);
    expect(removal?.status).toBe(200);
    const closedByRemoval = new Set(removal?.body.closed.map((p: { sessionId: string }) => p.sessionId));
    for (const j of joins) {
      if (j.status === 200) expect(closedByRemoval.has(j.body.sessionId)).toBe(true);
      else expect([j.status, j.body.code]).toEqual([403, 'removed_from_meeting']);
    }
    const live = await rest('GET', `/api/video/meetings/${m.meetingId}/participants`, m.tutorId);
    expect(live.body.participants.map((p: { sessionId: string }) => p.sessionId)).toEqual([tutor.sessionId]);
  });

  it('a session that already left cannot be removed or asked: not_in_meeting, and no bar is set', async () => {
    const m = await backend.createMeeting();
    await joined(m, 'tutor');
    const student = await joined(m, 'student', { audioMuted: true });
    student.c.send({ kind: { case: 'leave', value: {} } });
    await student.c.closed;
    for (const action of ['remove', 'ask-unmute']) {
      const res = await rest('POST', `/api/video/meetings/${m.meetingId}/participants/${student.sessionId}/${action}`, m.tutorId);
      expect([res.status, res.body.code]).toEqual([403, 'not_in_meeting']);
    }
    expect((await rest('GET', `/api/video/meetings/${m.meetingId}/removals`, m.tutorId)).body.removed).toEqual([]);
    await joined(m, 'student');
  });

  it('the ask to unmute reaches only its target, is rate-limited, and the student unmuting is seen by the tutor', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const target = await joined(m, 'student', { audioMuted: true });
    const otherTab = await joined(m, 'student', { audioMuted: true });

    tutor.c.send({ requestId: 'ask-1', kind: { case: 'askUnmute', value: { targetSessionId: target.sessionId } } });
    const sent = await tutor.c.next('unmuteAskSent');
    expect(sent.requestId).toBe('ask-1');
    const prompt = await target.c.next('unmuteAsked');
    expect(prompt).toMatchObject({ meetingId: m.meetingId, targetSessionId: target.sessionId, byUserId: m.tutorId });
    // Sentinel after the ask: the other tab and the tutor got everything before it, and no prompt.
    await sentinel(target.c, [otherTab.c, tutor.c], 'after-ask');
    expect(otherTab.c.pending('unmuteAsked')).toEqual([]);
    expect(tutor.c.pending('unmuteAsked')).toEqual([]);
    // Never a forced unmute: the target is still muted.
    const listed = await rest('GET', `/api/video/meetings/${m.meetingId}/participants`, m.tutorId);
    expect(listed.body.participants.find((p: { sessionId: string }) => p.sessionId === target.sessionId).isMuted).toBe(true);

    // A second ask inside the interval: refused with when to try again, over both transports.
    tutor.c.send({ requestId: 'ask-2', kind: { case: 'askUnmute', value: { targetSessionId: target.sessionId } } });
    const limited = await tutor.c.error('rate_limited');
    expect(limited.requestId).toBe('ask-2');
    expect(limited.retryAfterSeconds).toBe(askIntervalSeconds);
    const askPath = `/api/video/meetings/${m.meetingId}/participants/${target.sessionId}/ask-unmute`;
    clock.advance(5_000);
    const limitedRest = await rest('POST', askPath, m.tutorId);
    expect([limitedRest.status, limitedRest.body.code, limitedRest.headers.get('retry-after')]).toEqual([429, 'rate_limited', '10']);
    // The limit is per target: the other tab may be asked.
    expect((await rest('POST', askPath.replace(target.sessionId, otherTab.sessionId), m.tutorId)).status).toBe(200);
    await otherTab.c.next('unmuteAsked');
    // Once the interval has passed, the tutor may ask again.
    clock.advance((askIntervalSeconds - 5) * 1000);
    const again = await rest('POST', askPath, m.tutorId);
    expect(again.status).toBe(200);
    expect(again.body.asked.targetSessionId).toBe(target.sessionId);
    await target.c.next('unmuteAsked');

    // The student accepts: unmutes themselves; the tutor sees it.
    target.c.send({ requestId: 'unmute', kind: { case: 'media', value: { kind: 'audio', muted: false } } });
    const change = await tutor.c.next('muteChanged', (v) => v.sessionId === target.sessionId);
    expect(change).toMatchObject({ kind: 'audio', muted: false, byUserId: m.studentId });
    // Asking a session that is not muted is a conflict, not a prompt.
    clock.advance(askIntervalSeconds * 1000);
    const notMuted = await rest('POST', askPath, m.tutorId);
    expect([notMuted.status, notMuted.body.code]).toEqual([409, 'conflict']);
  });

  it("the tutor turns a student's camera off: the student and the tutor see it; the tutor cannot turn it on, the student can", async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');

    tutor.c.send({ requestId: 'cam-off', kind: { case: 'media', value: { kind: 'video', muted: true, targetSessionId: student.sessionId } } });
    for (const c of [student.c, tutor.c]) {
      expect(await c.next('muteChanged')).toMatchObject({ sessionId: student.sessionId, kind: 'video', muted: true, byUserId: m.tutorId });
    }
    const listed = await rest('GET', `/api/video/meetings/${m.meetingId}/participants`, m.studentId);
    expect(listed.body.participants.find((p: { sessionId: string }) => p.sessionId === student.sessionId).cameraOff).toBe(true);

    // No turning it back on for the student: that is theirs to do.
    const on = await rest('POST', `/api/video/meetings/${m.meetingId}/mute`, m.tutorId, { targetSessionId: student.sessionId, kind: 'video', isMuted: false });
    expect([on.status, on.body.code]).toEqual([403, 'forbidden']);
    student.c.send({ requestId: 'cam-on', kind: { case: 'media', value: { kind: 'video', muted: false } } });
    expect(await tutor.c.next('muteChanged')).toMatchObject({ sessionId: student.sessionId, kind: 'video', muted: false, byUserId: m.studentId });
  });
});
