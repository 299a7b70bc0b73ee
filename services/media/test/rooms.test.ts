import { randomUUID } from 'node:crypto';
import { fromJson } from '@bufbuild/protobuf';
import { ServiceError } from '@lessoncall/kit';
import { MediaRoomCreatedSchema, type SfuAccess } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JanusAdmin, type JanusError, nodeJanusClient, signedJanusToken } from '../src/janus/index';
import { startMediaStack, type MediaStack } from './helpers';

/** Joins the access's room as its publisher id; resolves with the VideoRoom's `joined` data or rejects with Janus's error. */
async function enter(access: SfuAccess, overrides: { joinToken?: string; janusToken?: string; url?: string } = {}) {
  const client = await nodeJanusClient(overrides.url ?? access.url, overrides.janusToken ?? access.janusToken).connect();
  try {
    const handle = await client.attach('janus.plugin.videoroom');
    const r = await handle.message({
      request: 'join',
      ptype: 'publisher',
      room: access.roomId,
      id: access.publisherId,
      token: overrides.joinToken ?? access.joinToken,
    });
    return { client, data: r.data };
  } catch (err) {
    await client.close();
    throw err;
  }
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error('expected a refusal');
  return err;
}

describe('media service: rooms and tokens on real Janus nodes', () => {
  let s: MediaStack;
  let admins: JanusAdmin[];

  beforeAll(async () => {
    s = await startMediaStack({ nodes: 2 });
    admins = s.janus.map((j) => new JanusAdmin(j.adminUrl, { adminSecret: j.adminSecret, roomAdminKey: j.roomAdminKey, timeoutMs: 2_000 }));
  });
  afterAll(async () => {
    for (const a of admins ?? []) a.close();
    await s?.stop();
  });

  const roomsOn = async () => Promise.all(admins.map(async (a) => (await a.rooms()).map((r) => r.room)));

  it('creates the room on first access, on the less loaded node, once; announces it; destroys it when the meeting ends', async () => {
    const created = s.h.nc.subscribe('media.room_created.*');
    const m = await s.createMeeting();
    const [tutorSession, studentSession] = await Promise.all([s.join(m, m.tutorId), s.join(m, m.studentIds[1]!)]);
    const [a, b] = await Promise.all([s.access(m, m.tutorId, tutorSession), s.access(m, m.studentIds[1]!, studentSession)]);
    expect(a).toMatchObject({ meetingId: m.meetingId, roomId: m.meetingId, generation: 1, publisherId: tutorSession, record: false });
    // The core token outlives the lesson's join window (a one-hour lesson starting now, plus the grace).
    const expiry = Number(a.janusToken.split(',')[0]) * 1000;
    expect(expiry).toBeGreaterThan(Date.now() + 60 * 60_000);
    expect(b.url).toBe(a.url);
    expect(a.joinToken).not.toBe(b.joinToken);
    const placed = await roomsOn();
    expect(placed.flat().filter((r) => r === m.meetingId)).toHaveLength(1);

    // A second meeting goes to the other node: it carries less.
    const tutor = await enter(a);
    await s.media.pool.probe();
    const m2 = await s.createMeeting();
    const a2 = await s.access(m2, m2.tutorId, await s.join(m2, m2.tutorId));
    expect(a2.url).not.toBe(a.url);

    for await (const msg of created) {
      const e = fromJson(MediaRoomCreatedSchema, msg.json());
      if (e.meetingId === m.meetingId) {
        expect(e).toMatchObject({ generation: 1, reason: 'first_join', url: a.url });
        break;
      }
    }

    await s.end(m);
    await expect.poll(async () => (await roomsOn()).flat().includes(m.meetingId), { timeout: 10_000 }).toBe(false);
    const after = await refusal(s.access(m, m.tutorId, tutorSession));
    expect(after).toBeInstanceOf(ServiceError);
    expect((after as ServiceError).code).toMatch(/meeting_ended|session_not_found/);
    await tutor.client.close();
  });

  it('Janus itself refuses a stranger, a guessed token, another meeting’s token and a session that has left', async () => {
    const m = await s.createMeeting();
    const other = await s.createMeeting();
    const session = await s.join(m, m.studentIds[0]!);
    const access = await s.access(m, m.studentIds[0]!, session);
    const otherAccess = await s.access(other, other.tutorId, await s.join(other, other.tutorId));

    // The service gives a stranger nothing, nor a user another's session.
    expect(((await refusal(s.access(m, randomUUID(), session))) as ServiceError).code).toBe('session_not_found');
    expect(((await refusal(s.access(m, m.tutorId, otherAccess.publisherId))) as ServiceError).code).toBe('session_not_found');

    // Straight at Janus: no core token, an expired one, one signed with another secret.
    const node = s.janus.find((j) => j.wsUrl === access.url)!;
    expect(((await refusal(enter(access, { janusToken: 'nope' }))) as JanusError).code).toBe(403);
    const expired = signedJanusToken(node.tokenSecret, new Date(Date.now() - 7_200_000), 60).token;
    expect(((await refusal(enter(access, { janusToken: expired }))) as JanusError).code).toBe(403);
    const forged = signedJanusToken('not-the-nodes-secret-at-all', new Date(), 600).token;
    expect(((await refusal(enter(access, { janusToken: forged }))) as JanusError).code).toBe(403);
    // A valid core token, but a room token that is guessed or another meeting's.
    expect(((await refusal(enter(access, { joinToken: 'guessed-token' }))) as JanusError).code).toBe(433);
    expect(((await refusal(enter(access, { joinToken: otherAccess.joinToken }))) as JanusError).code).toBe(433);

    // Its own token works — until the session leaves: then it is kicked and the token refused.
    const inside = await enter(access);
    expect(inside.data).toMatchObject({ videoroom: 'joined', room: m.meetingId, id: session });
    await s.leave(m, m.studentIds[0]!, session);
    const admin = admins[s.janus.indexOf(node)]!;
    await expect.poll(async () => (await admin.participants(m.meetingId)).map((p) => p.id), { timeout: 10_000 }).not.toContain(session);
    await inside.client.close();
    expect(((await refusal(enter(access))) as JanusError).code).toBe(433);
    expect(((await refusal(s.access(m, m.studentIds[0]!, session))) as ServiceError).code).toBe('session_not_found');
  });

  it('is ready once started and while a Janus node answers', async () => {
    const port = s.media.runtime.health?.port;
    expect(port).toBeTruthy();
    await expect.poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status, { timeout: 10_000 }).toBe(200);
  });

  it('a peer-to-peer meeting has no room', async () => {
    const m = await s.createMeeting({ students: 1 });
    const err = await refusal(s.access(m, m.tutorId, await s.join(m, m.tutorId)));
    expect((err as ServiceError).code).toBe('not_sfu');
  });

  it('re-creates the rooms of a node that dies on another node; live tokens work there, a revoked one does not', async () => {
    const m = await s.createMeeting();
    const [t, s1, s2] = await Promise.all([s.join(m, m.tutorId), s.join(m, m.studentIds[1]!), s.join(m, m.studentIds[2]!)]);
    const [at, a1, a2] = [await s.access(m, m.tutorId, t), await s.access(m, m.studentIds[1]!, s1), await s.access(m, m.studentIds[2]!, s2)];
    await s.leave(m, m.studentIds[2]!, s2);
    await expect.poll(async () => (await refusal(s.access(m, m.studentIds[2]!, s2))) instanceof ServiceError).toBe(true);

    const moved = new Promise<ReturnType<typeof fromJson<typeof MediaRoomCreatedSchema>>>((resolve) => {
      const sub = s.h.nc.subscribe(`media.room_created.${m.meetingId}`, {
        callback: (_err, msg) => {
          const e = fromJson(MediaRoomCreatedSchema, msg.json());
          if (e.generation > 1) {
            sub.unsubscribe();
            resolve(e);
          }
        },
      });
    });
    const dying = s.janus.findIndex((j) => j.wsUrl === at.url);
    const survivor = s.janus[1 - dying]!;
    const killedAt = Date.now();
    await s.janus[dying]!.kill();
    const event = await moved;
    const detectMs = Date.now() - killedAt;
    expect(event).toMatchObject({ reason: 'node_failed', url: survivor.wsUrl, generation: 2, previousNode: s.janus[dying]!.name });
    // 2 missed probes 300 ms apart, a 1 s timeout each: well inside 5 s.
    expect(detectMs).toBeLessThan(5_000);

    const again = await s.access(m, m.studentIds[1]!, s1);
    expect(again).toMatchObject({ url: survivor.wsUrl, generation: 2, joinToken: a1.joinToken });
    // The tokens handed out before the move are in the new room's list: clients reconnect with what they hold.
    const tutorThere = await enter({ ...at, url: survivor.wsUrl });
    expect(tutorThere.data).toMatchObject({ videoroom: 'joined', room: m.meetingId });
    expect(((await refusal(enter({ ...a2, url: survivor.wsUrl }))) as JanusError).code).toBe(433);
    await tutorThere.client.close();
  });
});
