import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linkSignature } from '@lessoncall/kit';
import { createTestMeeting } from '@lessoncall/meeting/testing';
import { type Harness, type JanusServer, setup, startJanus } from '@lessoncall/kit/testing';
import type { MediaService } from '@lessoncall/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, call, expectProblem, startBackend, startTestGateway, startTestMedia, type TestGateway } from './helpers';
import { joinAs, type WsClient } from './ws-client';

/**
 * An sfu meeting through the real WebSocket flow: after the welcome each socket gets its own
 * room access (svc.media.join, answered by the media service on real Janus nodes), asks again
 * with sfu_refresh, and is told where to reconnect when the room's node dies.
 */
describe('gateway: room access for sfu meetings', () => {
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  let janus: JanusServer[];
  let media: MediaService;
  const clients: WsClient[] = [];
  let recordingsDir: string;
  const signingSecret = 'gateway-test-recordings-signing-secret';

  beforeAll(async () => {
    recordingsDir = await mkdtemp(join(tmpdir(), 'lessoncall-gw-recordings-'));
    const secret = () => randomBytes(18).toString('base64url');
    const shared = { adminSecret: secret(), tokenSecret: secret(), roomAdminKey: secret() };
    [h, ...janus] = await Promise.all([
      setup({ postgres: true, auth: true }),
      startJanus({ ...shared, name: 'node-a' }),
      startJanus({ ...shared, name: 'node-b' }),
    ]);
    // Every meeting on the SFU, so that a 1:1 test meeting gets a room.
    backend = await startBackend(h, { meeting: { MEDIA_MODE: 'sfu' }, turn: false });
    media = await startTestMedia(h, janus, shared, {
      JANUS_HEALTH_INTERVAL_MS: '300',
      JANUS_DEAD_AFTER_FAILURES: '2',
      JANUS_TIMEOUT_MS: '1000',
      RECORDINGS_SIGNING_SECRET: signingSecret,
      RECORDINGS_DIR: recordingsDir,
    });
    gw = await startTestGateway(h, { RECORDINGS_DIR: recordingsDir, RECORDINGS_SIGNING_SECRET: signingSecret });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    await media?.stop();
    await backend?.stop();
    await Promise.all((janus ?? []).map((j) => j.stop()));
    await h?.cleanup();
    await rm(recordingsDir, { recursive: true, force: true });
  });

  it('each socket gets its own access after the welcome, again on sfu_refresh, and a reconnect when the node dies', async () => {
    const m = await backend.createMeeting();
    const tutor = await joinAs(gw, m, 'tutor');
    const student = await joinAs(gw, m, 'student');
    clients.push(tutor.c, student.c);
    expect(tutor.welcome.meeting?.mediaMode).toBe('sfu');
    const [ta, sa] = await Promise.all([tutor.c.next('sfuAccess'), student.c.next('sfuAccess')]);
    expect(ta).toMatchObject({ meetingId: m.meetingId, roomId: m.meetingId, publisherId: tutor.sessionId, generation: 1, reconnect: false });
    expect(sa).toMatchObject({ publisherId: student.sessionId, url: ta.url });
    expect(sa.joinToken).not.toBe(ta.joinToken);
    expect(ta.janusToken).toMatch(/^\d+,janus,janus\.plugin\.videoroom:/);

    student.c.send({ requestId: 'again', kind: { case: 'sfuRefresh', value: {} } });
    const again = await student.c.next('sfuAccess');
    expect(again).toMatchObject({ requestId: 'again', joinToken: sa.joinToken, reconnect: false });

    const dying = janus.find((j) => j.wsUrl === ta.url)!;
    const survivor = janus.find((j) => j !== dying)!;
    await dying.kill();
    const [tm, sm] = await Promise.all([tutor.c.next('sfuAccess', () => true, 10_000), student.c.next('sfuAccess', () => true, 10_000)]);
    expect(tm).toMatchObject({ reconnect: true, url: survivor.wsUrl, generation: 2, joinToken: ta.joinToken });
    expect(sm).toMatchObject({ reconnect: true, url: survivor.wsUrl, generation: 2, joinToken: sa.joinToken });
  });

  it("serves a recording to the meeting's people only, through a link that expires and cannot be altered", async () => {
    const m = await createTestMeeting(h.nc, { start: new Date(Date.now() - 60_000), record: true });
    const path = `/api/video/meetings/${m.meetingId}/recording`;
    const as = async (userId: string) => ({ authorization: `Bearer ${await gw.tokenFor(userId)}` });
    expectProblem(await call(gw.url, 'GET', path, { token: await gw.tokenFor(m.tutorId) }), 404, 'recording_not_found');
    expectProblem(await call(gw.url, 'GET', path, { token: await gw.tokenFor(randomUUID()) }), 404, 'meeting_not_found');

    // What the media service leaves when a recording is ready: the file in storage, the room row saying so.
    const key = `recordings/${m.meetingId}.webm`;
    await mkdir(join(recordingsDir, 'recordings'), { recursive: true });
    await writeFile(join(recordingsDir, key), 'the lesson on video');
    await h.db!.asService((tx) =>
      tx.query(
        `insert into media_rooms (meeting_id, node, room_secret, record, status, recording_status, recording_key) values ($1, 'node-a', 'x', true, 'closed', 'ready', $2)`,
        [m.meetingId, key],
      ),
    );
    const redirect = await fetch(`${gw.url}${path}`, { headers: await as(m.studentId), redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const link = new URL(redirect.headers.get('location') ?? '');
    expect(link.pathname).toBe(`/api/video/recordings/${key}`);
    const file = await fetch(`${gw.url}${link.pathname}${link.search}`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('video/webm');
    expect(await file.text()).toBe('the lesson on video');

    const expires = Number(link.searchParams.get('expires'));
    const signature = link.searchParams.get('signature') ?? '';
    const other = `/api/video/recordings/recordings/MID-AAAAAAAAAAAAAAAA.webm?expires=${expires}&signature=${signature}`;
    expectProblem(await call(gw.url, 'GET', other), 403, 'forbidden');
    expectProblem(await call(gw.url, 'GET', `/api/video/recordings/${key}?expires=${expires + 3600}&signature=${signature}`), 403, 'forbidden');
    const past = Math.floor(Date.now() / 1000) - 10;
    expectProblem(
      await call(gw.url, 'GET', `/api/video/recordings/${key}?expires=${past}&signature=${linkSignature(signingSecret, key, past)}`),
      403,
      'forbidden',
    );
  });
});
