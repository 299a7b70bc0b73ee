import { decode, ServiceError, client } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import type { ParticipantService } from '@lessoncall/participant';
import { MeetingRecordReadySchema, subjects, ParticipantService as ParticipantRpc } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type Backend, call, restartParticipant, startBackend, startTestGateway, type TestGateway, type TestMeeting } from './helpers';
import { joinAs, WsClient } from './ws-client';

const maxUpdate = 4_096;
const maxBoard = 24_576;
const compactEvery = 8;
const participantLimits = { BOARD_MAX_UPDATE_BYTES: String(maxUpdate), BOARD_MAX_BYTES: String(maxBoard), BOARD_COMPACT_EVERY: String(compactEvery) };

/** A board editor as the web client is one: a Y.Doc whose local changes go out as boardUpdate and whose remote ones come in. */
class Editor {
  readonly doc = new Y.Doc();
  readonly elements = this.doc.getMap<Record<string, unknown>>('elements');
  #n = 0;

  constructor(readonly c: WsClient) {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'remote') return;
      this.#n += 1;
      c.send({ requestId: `u-${this.#n}`, kind: { case: 'boardUpdate', value: { update } } });
    });
    c.listen('boardUpdate', (v) => Y.applyUpdate(this.doc, v.update, 'remote'));
  }

  /** The state vector exchange: what the board has that we lack, then what we have that it lacks. */
  async sync(): Promise<void> {
    this.c.send({ requestId: 'sync', kind: { case: 'boardSync', value: { stateVector: Y.encodeStateVector(this.doc) } } });
    const state = await this.c.next('boardState', (_v, m) => m.requestId === 'sync');
    Y.applyUpdate(this.doc, state.update, 'remote');
    const missing = Y.encodeStateAsUpdate(this.doc, state.stateVector);
    // Two bytes is the empty update: nothing the board lacks.
    if (missing.length > 2) this.c.send({ requestId: 'sync-back', kind: { case: 'boardUpdate', value: { update: missing } } });
  }

  draw(id: string, shape: Record<string, unknown>): void {
    this.elements.set(id, { id, type: 'rectangle', x: 0, y: 0, width: 10, height: 10, version: 1, ...shape });
  }

  /** Waits for the ack of the last update sent (the service stored it). */
  acked(n = this.#n) {
    return this.c.next('boardAck', (_v, m) => m.requestId === `u-${n}`);
  }

  get sent(): number {
    return this.#n;
  }

  ids(): string[] {
    return [...this.elements.keys()].sort();
  }
}

async function eventually(what: string, ok: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The whiteboard end to end: Yjs documents editing through the real gateway, NATS, the
 * participant service and Postgres (RLS the gate of every read), and the lesson record with
 * its board image and call quality once the meeting ends.
 */
describe('whiteboard over the WebSocket', () => {
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  let restarted: ParticipantService | undefined;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    h = await setup({ postgres: true });
    backend = await startBackend(h, { participant: participantLimits });
    gw = await startTestGateway(h);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    await restarted?.stop();
    await backend?.stop().catch(() => {});
    await h?.cleanup();
  });

  const boardStateOf = (meetingId: string, userId: string) => client(h.nc, ParticipantRpc, { timeoutMs: 2_000 }).boardState({ meetingId, userId });

  async function joined(m: TestMeeting, who: 'tutor' | 'student') {
    const { c, welcome, userId } = await joinAs(gw, m, who);
    clients.push(c);
    return { c, welcome, userId, editor: new Editor(c) };
  }

  it('makes two concurrent editors converge, the same element edited by both included', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    await tutor.editor.sync();
    await student.editor.sync();

    // Both draw at once, without waiting for each other, and both move the same shape.
    tutor.editor.draw('shared', { x: 1 });
    await tutor.editor.acked();
    await until('the shared shape at the student', () => student.editor.elements.has('shared'));
    for (let i = 0; i < 5; i++) {
      tutor.editor.draw(`t${i}`, { x: i * 20 });
      student.editor.draw(`s${i}`, { y: i * 20 });
    }
    tutor.editor.draw('shared', { x: 100, version: 2 });
    student.editor.draw('shared', { x: 200, version: 2 });
    await Promise.all([tutor.editor.acked(), student.editor.acked()]);

    const want = ['s0', 's1', 's2', 's3', 's4', 'shared', 't0', 't1', 't2', 't3', 't4'];
    await until('both boards complete', () => tutor.editor.ids().length === want.length && student.editor.ids().length === want.length);
    expect(tutor.editor.ids()).toEqual(want);
    expect(student.editor.ids()).toEqual(want);
    // The same winner on both sides (Yjs decides by client id), and the stored board agrees.
    expect(tutor.editor.elements.get('shared')).toEqual(student.editor.elements.get('shared'));
    const late = await joined(m, 'tutor');
    await late.editor.sync();
    expect(late.editor.ids()).toEqual(want);
    expect(late.editor.elements.get('shared')).toEqual(tutor.editor.elements.get('shared'));
  });

  it('tells a socket that has not opened the board that someone is drawing, without sending it every stroke', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    let heard = 0;
    student.c.listen('boardUpdate', () => {
      heard += 1;
    });
    await tutor.editor.sync();
    for (let i = 0; i < 6; i++) {
      tutor.editor.draw(`t${i}`, { x: i * 20 });
      await tutor.editor.acked();
    }
    // A sentinel on the same path after the strokes: once it is there, every update the student would get has come.
    tutor.c.send({ requestId: 'sentinel', kind: { case: 'chatSend', value: { clientMessageId: 'sentinel-1', text: 'look at the board' } } });
    await student.c.next('chat', (v) => v.message?.clientMessageId === 'sentinel-1');
    expect(heard).toBe(1);
    // Opening the board brings the rest.
    await student.editor.sync();
    expect(student.editor.ids()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
  });

  it('gives a late joiner the board, and a resumed session sends back what it drew while away', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    await tutor.editor.sync();
    tutor.editor.draw('before-student', {});
    await tutor.editor.acked();

    const student = await joined(m, 'student');
    await student.editor.sync();
    expect(student.editor.ids()).toEqual(['before-student']);

    // The student's socket drops; it keeps drawing offline, then resumes on a new socket.
    student.c.close();
    const offline = student.editor.doc;
    const again = await WsClient.open(gw.wsUrl);
    clients.push(again);
    const welcome = await again.hello({
      accessToken: await gw.tokenFor(m.studentId),
      meetingId: m.meetingId,
      passcode: m.passcode,
      resumeSessionId: student.welcome.sessionId,
      resumeToken: student.welcome.resumeToken,
    });
    expect(welcome.resumed).toBe(true);
    const resumed = new Editor(again);
    Y.applyUpdate(resumed.doc, Y.encodeStateAsUpdate(offline), 'remote');
    resumed.doc.transact(() => resumed.elements.set('while-away', { id: 'while-away', type: 'ellipse' }), 'remote');
    await resumed.sync();
    await again.next('boardAck', (_v, msg) => msg.requestId === 'sync-back');
    await until('the offline stroke at the tutor', () => tutor.editor.elements.has('while-away'));
    expect(tutor.editor.ids()).toEqual(['before-student', 'while-away']);
  });

  it("gives a stranger and another meeting's participant nothing, over the WebSocket, NATS (RLS) and REST", async () => {
    const m = await backend.createMeeting();
    const other = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const elsewhere = await joined(other, 'tutor');
    const elsewhereStudent = await joined(other, 'student');
    await Promise.all([tutor.editor.sync(), elsewhere.editor.sync(), elsewhereStudent.editor.sync()]);

    tutor.editor.draw('secret', {});
    await tutor.editor.acked();
    // Sentinel: a stroke of their own meeting, drawn after; the one of meeting m must not come before it.
    elsewhereStudent.editor.draw('sentinel', {});
    await until('the sentinel', () => elsewhere.editor.elements.has('sentinel'));
    expect(elsewhere.editor.ids()).toEqual(['sentinel']);

    // The service reads the board as the user: RLS hides it from anyone but its tutor and student.
    for (const userId of [other.tutorId, other.studentId, '55555555-5555-4555-8555-555555555555']) {
      const err = await boardStateOf(m.meetingId, userId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceError);
      expect((err as ServiceError).code).toBe('meeting_not_found');
    }
    const own = await boardStateOf(m.meetingId, m.studentId);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, own.state?.update ?? new Uint8Array());
    expect([...doc.getMap('elements').keys()]).toEqual(['secret']);

    // Another meeting's socket cannot even name this board: the gateway uses its own session's meeting.
    elsewhere.c.send({ requestId: 'ctl', kind: { case: 'boardControl', value: { clear: true } } });
    expect(await elsewhere.c.next('boardControl', (_v, msg) => msg.requestId === 'ctl')).toMatchObject({ meetingId: other.meetingId, cleared: true });
    await until('the other board cleared', () => elsewhere.editor.elements.size === 0);
    const after = await boardStateOf(m.meetingId, m.tutorId);
    const still = new Y.Doc();
    Y.applyUpdate(still, after.state?.update ?? new Uint8Array());
    expect([...still.getMap('elements').keys()]).toEqual(['secret']);

    // REST: the record (with the board) is the meeting's tutor's and student's only.
    for (const userId of [other.tutorId, '55555555-5555-4555-8555-555555555555']) {
      const res = await call(gw.url, 'GET', `/api/video/meetings/${m.meetingId}/record`, { token: await gw.tokenFor(userId) });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('meeting_not_found');
    }
  });

  it('lets the tutor lock the board for the student and clear it; the student cannot', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    await Promise.all([tutor.editor.sync(), student.editor.sync()]);
    student.editor.draw('student-1', {});
    await student.editor.acked();

    student.c.send({ requestId: 'grab', kind: { case: 'boardControl', value: { locked: false, clear: true } } });
    expect((await student.c.error('forbidden')).requestId).toBe('grab');

    tutor.c.send({ requestId: 'lock', kind: { case: 'boardControl', value: { locked: true } } });
    // The tutor has it as the reply, the student as a push; each once.
    expect(await tutor.c.next('boardControl', (_v, msg) => msg.requestId === 'lock')).toMatchObject({ locked: true, byUserId: m.tutorId });
    expect(await student.c.next('boardControl')).toMatchObject({ meetingId: m.meetingId, locked: true, cleared: false, byUserId: m.tutorId });
    student.editor.draw('student-2', {});
    const refused = await student.c.error('board_locked');
    expect(refused.requestId).toBe(`u-${student.editor.sent}`);
    // As the web client does on a refusal: start over from the stored board (the refused stroke is gone).
    student.editor = new Editor(student.c);
    await student.editor.sync();
    expect(student.editor.ids()).toEqual(['student-1']);
    // The tutor still draws; the student's locked stroke was never stored or relayed.
    tutor.editor.draw('tutor-1', {});
    await until('the tutor stroke at the student', () => student.editor.elements.has('tutor-1'));
    const fresh = await joined(m, 'tutor');
    await fresh.editor.sync();
    expect(fresh.editor.ids()).toEqual(['student-1', 'tutor-1']);
    fresh.c.close();
    // A fresh look at the lock: the state says locked.
    student.c.send({ requestId: 'look', kind: { case: 'boardSync', value: {} } });
    expect((await student.c.next('boardState', (_v, msg) => msg.requestId === 'look')).locked).toBe(true);

    tutor.c.send({ requestId: 'clear', kind: { case: 'boardControl', value: { clear: true, locked: false } } });
    expect(await tutor.c.next('boardControl', (_v, msg) => msg.requestId === 'clear')).toMatchObject({ locked: false, cleared: true });
    expect(await student.c.next('boardControl')).toMatchObject({ locked: false, cleared: true });
    expect(tutor.c.pending('boardControl')).toEqual([]);
    await until('the clear at the student', () => student.editor.elements.size === 0);
    expect(tutor.editor.elements.size).toBe(0);
    student.editor.draw('after-clear', {});
    await student.editor.acked();
    await until('the student stroke at the tutor', () => tutor.editor.elements.has('after-clear'));
  });

  it('refuses an update over the size limit, garbage, and an update once the board is full', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    await tutor.editor.sync();
    tutor.c.send({ requestId: 'big', kind: { case: 'boardUpdate', value: { update: new Uint8Array(maxUpdate + 1).fill(7) } } });
    const big = await tutor.c.error('message_too_large');
    expect([big.requestId, big.field]).toEqual(['big', 'update']);
    tutor.c.send({ requestId: 'junk', kind: { case: 'boardUpdate', value: { update: new Uint8Array([255, 255, 255, 255, 1, 2, 3]) } } });
    const junk = await tutor.c.error('invalid_request');
    expect([junk.requestId, junk.field]).toEqual(['junk', 'update']);

    // Strokes of ~3 KB each until the board (24 KB) is full: a typed refusal, and the board keeps what it had.
    const text = 'x'.repeat(3_000);
    let stored = 0;
    for (let i = 0; i < 20; i++) {
      tutor.editor.draw(`big-${i}`, { type: 'text', text });
      const reply = await tutor.c.take((msg) => msg.requestId === `u-${tutor.editor.sent}`);
      if (reply.kind.case === 'boardAck') {
        stored += 1;
        continue;
      }
      expect(reply.kind.case).toBe('error');
      expect(reply.kind.value).toMatchObject({ code: 'board_full' });
      break;
    }
    expect(stored).toBeGreaterThan(3);
    expect(stored).toBeLessThan(9);
    const check = await joined(m, 'student');
    await check.editor.sync();
    expect(check.editor.ids()).toHaveLength(stored);
    // Clearing frees the space again (the board is folded into a small snapshot).
    tutor.c.send({ requestId: 'clear', kind: { case: 'boardControl', value: { clear: true } } });
    await tutor.c.next('boardControl', (_v, msg) => msg.requestId === 'clear');
    // Only the refused stroke is left, locally: the stored board is empty.
    expect(tutor.editor.ids()).toEqual([`big-${stored}`]);
    const afterClear = await joined(m, 'student');
    await afterClear.editor.sync();
    expect(afterClear.editor.ids()).toEqual([]);
    tutor.editor.draw('after', {});
    await tutor.editor.acked();
  });

  it('keeps the board across a participant service restart, folded into snapshots as it grows', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    await tutor.editor.sync();
    for (let i = 0; i < compactEvery * 3; i++) {
      tutor.editor.draw(`k${i}`, { x: i });
      await tutor.editor.acked();
    }
    // Compaction runs after the answer; the stored size drops to one snapshot's once it has.
    const sum = Y.encodeStateAsUpdate(tutor.editor.doc).length;
    await eventually('a compaction', async () => ((await boardStateOf(m.meetingId, m.tutorId)).state?.sizeBytes ?? 0) <= sum + 64);

    await backend.participant.stop();
    restarted = await restartParticipant(h, participantLimits);
    const student = await joined(m, 'student');
    await student.editor.sync();
    expect(student.editor.ids()).toHaveLength(compactEvery * 3);
    expect(student.editor.elements.toJSON()).toEqual(tutor.editor.elements.toJSON());
    student.editor.draw('after-restart', {});
    await student.editor.acked();
    await until('the new stroke at the tutor', () => tutor.editor.elements.has('after-restart'));
  });

  it('publishes meeting.record_ready when the meeting ends: attendance, chat, the board image and call quality; GET …/record says the same', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    await Promise.all([tutor.editor.sync(), student.editor.sync()]);
    tutor.editor.draw('box', { x: 10, y: 20, width: 120, height: 60, strokeColor: '#1971c2' });
    student.editor.draw('label', { type: 'text', x: 20, y: 30, width: 80, height: 25, text: 'x² <b>' });
    await Promise.all([tutor.editor.acked(), student.editor.acked()]);
    tutor.c.send({ requestId: 'q', kind: { case: 'chatSend', value: { clientMessageId: 'q1', text: 'see the box' } } });
    await tutor.c.next('chat');
    const sample = (peer: string, rttMs: number, relayed: boolean) => ({ peerSessionId: peer, rttMs, lossRatio: 0.02, relayed, intervalMs: 10_000 });
    for (const [rtt, relayed] of [
      [40, true],
      [60, true],
      [50, false],
    ] as const) {
      tutor.c.send({ requestId: `tq-${rtt}`, kind: { case: 'qualityReport', value: { sample: sample(student.welcome.sessionId, rtt, relayed) } } });
    }
    student.c.send({ requestId: 'sq', kind: { case: 'qualityReport', value: { sample: sample(tutor.welcome.sessionId, 30, false) } } });
    // Bad samples are refused with the field; the sentinel (a ping) proves the good ones were taken without complaint.
    student.c.send({ requestId: 'bad', kind: { case: 'qualityReport', value: { sample: { ...sample(tutor.welcome.sessionId, 30, false), lossRatio: 3 } } } });
    expect((await student.c.error('invalid_request')).field).toBe('sample.lossRatio');
    for (const who of [tutor, student]) {
      who.c.send({ requestId: 'ping', kind: { case: 'ping', value: { sentAtMs: 1n } } });
      await who.c.next('pong');
      expect(who.c.pending('error')).toEqual([]);
    }
    // A report has no reply on success: it is in the lesson record once the participant service stored it.
    await eventually('the four good reports stored', async () => {
      const { rows } = await h.db!.asService((tx) =>
        tx.query<{ n: number }>('select count(*)::int as n from video_call_quality where meeting_id = $1', [m.meetingId]),
      );
      return rows[0]?.n === 4;
    });

    const ready = new Promise<Uint8Array>((resolve) => {
      const sub = h.nc.subscribe(subjects.meetingRecordReady(m.meetingId), {
        callback: (_e, msg) => {
          sub.unsubscribe();
          resolve(msg.data);
        },
      });
    });
    await h.nc.flush();
    const ended = await call(gw.url, 'POST', `/api/video/meetings/${m.meetingId}/end`, { token: await gw.tokenFor(m.tutorId) });
    expect(ended.status).toBe(200);
    const event = decode(MeetingRecordReadySchema, await ready);
    const rec = event.record;
    expect(rec?.meetingId).toBe(m.meetingId);
    expect(rec?.attendance?.entries.map((e) => e.userType).sort()).toEqual(['student', 'tutor']);
    expect(rec?.transcript.map((x) => x.text)).toEqual(['see the box']);
    expect(rec?.boardImage).toMatchObject({ mediaType: 'image/svg+xml', elements: 2, omitted: false });
    const svg = rec?.boardImage?.data ?? '';
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('stroke="#1971c2"');
    // The student's text is text, escaped: no markup of theirs in the image.
    expect(svg).toContain('x² &lt;b&gt;');
    expect(svg).not.toContain('<b>');
    const byUser = new Map(rec?.quality.map((q) => [q.userId, q]));
    expect(byUser.get(m.tutorId)).toMatchObject({ medianRttMs: 50, lossRatio: 0.02, relayedShare: 0.667, reports: 3 });
    expect(byUser.get(m.studentId)).toMatchObject({ medianRttMs: 30, relayedShare: 0, reports: 1 });

    const res = await call(gw.url, 'GET', `/api/video/meetings/${m.meetingId}/record`, { token: await gw.tokenFor(m.studentId) });
    expect(res.status).toBe(200);
    expect(res.body.record.boardImage.data).toBe(svg);
    expect(res.body.record.quality).toHaveLength(2);
    expect(res.body.record.transcript).toHaveLength(1);
  });
});
