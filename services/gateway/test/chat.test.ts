import { type Harness, setup } from '@lessoncall/kit/testing';
import type { ParticipantService } from '@lessoncall/participant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, call, startBackend, restartParticipant, startTestGateway, type TestGateway, type TestMeeting } from './helpers';
import { joinAs, type WsClient } from './ws-client';

const burst = 5;

/**
 * Chat over /api/video/ws end to end: the real gateway, participant service, NATS and Postgres
 * (with RLS as the gate of every read). "Nothing arrived" is proven with a sentinel message
 * that is sent after the one that must not arrive.
 */
describe('chat over the WebSocket', () => {
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  let restarted: ParticipantService | undefined;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    h = await setup({ postgres: true });
    backend = await startBackend(h);
    // A burst of 5 and then one message a minute: the limit is reached by the test, not by time.
    gw = await startTestGateway(h, { CHAT_BURST: String(burst), CHAT_RATE_PER_MINUTE: '1' });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    await restarted?.stop();
    // The first participant service may be the one a test already stopped.
    await backend?.stop().catch(() => {});
    await h?.cleanup();
  });

  async function joined(m: TestMeeting, who: 'tutor' | 'student', resume?: { sessionId: string; resumeToken: string }) {
    const j = await joinAs(gw, m, who, resume ? { resume } : {});
    clients.push(j.c);
    return j;
  }

  function say(c: WsClient, clientMessageId: string, text: string, requestId = clientMessageId) {
    c.send({ requestId, kind: { case: 'chatSend', value: { clientMessageId, text } } });
  }

  it('delivers a message to the other participant with the sender stamped by the gateway, and answers the sender', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    expect(tutor.history.messages).toEqual([]);

    say(tutor.c, 'c-1', 'What is 2 + 2? <b>not bold</b> https://example.org');
    const ack = await tutor.c.next('chat');
    expect(ack.requestId).toBe('c-1');
    const got = await student.c.next('chat');
    for (const message of [ack.message, got.message]) {
      expect(message).toMatchObject({
        meetingId: m.meetingId,
        sessionId: tutor.welcome.sessionId,
        userId: m.tutorId,
        userType: 'tutor',
        clientMessageId: 'c-1',
        // Stored and relayed as typed: plain text, never interpreted.
        text: 'What is 2 + 2? <b>not bold</b> https://example.org',
      });
    }
    expect(got.message?.messageId).toBe(ack.message?.messageId);
    // The sender has its copy as the reply, not a second time from the fan-out: the student's answer comes next.
    say(student.c, 's-1', 'four');
    await student.c.next('chat', (v) => v.message?.clientMessageId === 's-1');
    const next = await tutor.c.next('chat');
    expect(next.message?.clientMessageId).toBe('s-1');
    expect(next.message?.userType).toBe('student');
    expect(tutor.c.pending('chat')).toEqual([]);
  });

  it("gives a stranger and another meeting's participant nothing, over the WebSocket and REST", async () => {
    const m = await backend.createMeeting();
    const other = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const elsewhere = await joined(other, 'tutor');
    const elsewhereStudent = await joined(other, 'student');

    say(tutor.c, 'secret', 'only for my student');
    await tutor.c.next('chat');
    // Sentinel: a message of their own meeting, sent after; the one of meeting m must not come before it.
    say(elsewhereStudent.c, 'sentinel', 'hello from the other meeting');
    const first = await elsewhere.c.next('chat');
    expect(first.message?.clientMessageId).toBe('sentinel');
    expect(elsewhere.c.pending('chat')).toEqual([]);

    const path = `/api/video/meetings/${m.meetingId}/chat`;
    const own = await call(gw.url, 'GET', path, { token: await gw.tokenFor(m.studentId) });
    expect(own.status).toBe(200);
    expect(own.body.messages.map((x: { text: string }) => x.text)).toEqual(['only for my student']);
    for (const userId of [other.tutorId, other.studentId, '33333333-3333-4333-8333-333333333333']) {
      const res = await call(gw.url, 'GET', path, { token: await gw.tokenFor(userId) });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('meeting_not_found');
      expect(JSON.stringify(res.body)).not.toContain('only for my student');
    }
    expect((await call(gw.url, 'GET', path)).status).toBe(401);
  });

  it('stores a resent message once and answers the resend with the stored one', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    say(student.c, 'dup-1', 'is this on the test?', 'first');
    const first = await student.c.next('chat', (_v, msg) => msg.requestId === 'first');
    // The reply was lost, say: the client sends the same message again.
    say(student.c, 'dup-1', 'is this on the test?', 'again');
    const again = await student.c.next('chat', (_v, msg) => msg.requestId === 'again');
    expect(again.message?.messageId).toBe(first.message?.messageId);
    say(student.c, 'dup-2', 'sentinel');
    await tutor.c.next('chat', (v) => v.message?.clientMessageId === 'dup-1');
    const after = await tutor.c.next('chat');
    expect(after.message?.clientMessageId).toBe('dup-2');
    const res = await call(gw.url, 'GET', `/api/video/meetings/${m.meetingId}/chat`, { token: await gw.tokenFor(m.tutorId) });
    expect(res.body.messages.map((x: { clientMessageId: string }) => x.clientMessageId)).toEqual(['dup-1', 'dup-2']);
  });

  it('refuses an over-long message, an empty one and a bad client id, and rate-limits a session', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    say(tutor.c, 'long', 'x'.repeat(2001));
    const long = await tutor.c.error('message_too_large');
    expect(long.requestId).toBe('long');
    expect(long.field).toBe('text');
    // 2,000 characters, counted as characters (not UTF-16 units): 🙂 is one.
    say(tutor.c, 'max', '🙂'.repeat(2000));
    expect((await tutor.c.next('chat')).message?.text).toHaveLength(4000);
    say(tutor.c, 'empty', '   ');
    expect((await tutor.c.error('invalid_request')).field).toBe('text');
    say(tutor.c, 'bad id!', 'x');
    expect((await tutor.c.error('invalid_request')).field).toBe('clientMessageId');

    // The four above used four of the burst of five (refused ones too: the limit is on sends).
    say(tutor.c, 'r-4', 'fourth');
    await tutor.c.next('chat', (v) => v.message?.clientMessageId === 'r-4');
    say(tutor.c, 'r-5', 'fifth');
    const limited = await tutor.c.error('rate_limited');
    expect(limited.requestId).toBe('r-5');
    expect(limited.retryAfterSeconds).toBeGreaterThan(0);
    const res = await call(gw.url, 'GET', `/api/video/meetings/${m.meetingId}/chat`, { token: await gw.tokenFor(m.tutorId) });
    expect(res.body.messages.map((x: { clientMessageId: string }) => x.clientMessageId)).toEqual(['max', 'r-4']);
  });

  it('sends the history on join and on resume, and keeps it across a participant service restart', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    say(tutor.c, 'h-1', 'first');
    await tutor.c.next('chat');
    say(student.c, 'h-2', 'second');
    await student.c.next('chat');
    await tutor.c.next('chat', (v) => v.message?.text === 'second');

    // A resume gets the transcript again (what it may have missed while away).
    const resumed = await joined(m, 'student', { sessionId: student.welcome.sessionId, resumeToken: student.welcome.resumeToken });
    expect(resumed.welcome.resumed).toBe(true);
    expect(resumed.history.messages.map((x) => x.text)).toEqual(['first', 'second']);

    await backend.participant.stop();
    restarted = await restartParticipant(h);
    // The student reloads: a new session, and the transcript is still there.
    const reloaded = await joined(m, 'student');
    expect(reloaded.welcome.resumed).toBe(false);
    expect(reloaded.history.messages.map((x) => [x.text, x.userType])).toEqual([
      ['first', 'tutor'],
      ['second', 'student'],
    ]);
    say(reloaded.c, 'h-3', 'third');
    expect((await tutor.c.next('chat')).message?.text).toBe('third');
  });

  it('serves the lesson record after the meeting ends, to its tutor and student only', async () => {
    const m = await backend.createMeeting();
    const other = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    say(student.c, 'q-1', 'what about x?');
    await student.c.next('chat');
    const path = `/api/video/meetings/${m.meetingId}/record`;
    const early = await call(gw.url, 'GET', path, { token: await gw.tokenFor(m.tutorId) });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('conflict');

    const ended = await call(gw.url, 'POST', `/api/video/meetings/${m.meetingId}/end`, { token: await gw.tokenFor(m.tutorId) });
    expect(ended.status).toBe(200);
    await tutor.c.next('meetingEnded');
    for (const userId of [m.tutorId, m.studentId]) {
      // The participant service learns of the end from meeting.ended: eventually ready.
      let res = await call(gw.url, 'GET', path, { token: await gw.tokenFor(userId) });
      for (let i = 0; i < 50 && res.status === 409; i++) {
        await new Promise((r) => setTimeout(r, 100));
        res = await call(gw.url, 'GET', path, { token: await gw.tokenFor(userId) });
      }
      expect(res.status).toBe(200);
      const rec = res.body.record;
      expect(rec.meetingId).toBe(m.meetingId);
      expect(rec.transcript.map((x: { text: string; userType: string }) => [x.text, x.userType])).toEqual([['what about x?', 'student']]);
      expect(rec.attendance.entries.map((e: { userType: string }) => e.userType).sort()).toEqual(['student', 'tutor']);
      // No quality reports arrived and there is no whiteboard: absent, not zeros.
      expect(rec.quality ?? []).toEqual([]);
      expect(rec).not.toHaveProperty('board');
    }
    for (const userId of [other.tutorId, '44444444-4444-4444-8444-444444444444']) {
      const res = await call(gw.url, 'GET', path, { token: await gw.tokenFor(userId) });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('meeting_not_found');
    }
  });
});
