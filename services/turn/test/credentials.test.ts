import { createHmac } from 'node:crypto';
import { createLogger, ManualClock, ServiceError, client } from '@lessoncall/kit';
import { type CoturnServer, type Harness, setup, startCoturn } from '@lessoncall/kit/testing';
import { TurnService as TurnRpc } from '@lessoncall/proto';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iceServersFor, loadTurnConfig, startTurnService, type TurnConfig, type TurnService } from '../src/index';
import { echoPeer, uclient } from './support/uclient';
import { relayCall } from './support/wrtc';

const logger = createLogger('turn-test', { level: 'silent' });
const secret = 'local-test-secret-0123456789';
const userId = '11111111-1111-4111-8111-111111111111';
const meetingId = 'MID-ABCDEFGHJKMNPQRS';

function turnOf(res: { iceServers: { urls: string[]; username: string; credential: string }[] }) {
  const turn = res.iceServers.find((s) => s.urls.some((u) => u.startsWith('turn:')));
  if (!turn) throw new Error('no TURN entry');
  return turn;
}

describe('turn service with the local coturn', () => {
  let h: Harness;
  let coturn: CoturnServer;
  let config: TurnConfig;
  let service: TurnService;
  const clock = new ManualClock(new Date());

  const credentials = (body: { userId: string; meetingId: string }) => client(h.nc, TurnRpc, { timeoutMs: 2_000 }).turnCredentials(body);

  const precall = (body: { userId: string; meetingId: string }) => client(h.nc, TurnRpc, { timeoutMs: 2_000 }).precallCredentials(body);

  beforeAll(async () => {
    [h, coturn] = await Promise.all([setup(), startCoturn({ secret, config: 'local' })]);
    config = loadTurnConfig({
      ...h.natsEnv('turn'),
      HEALTH_PORT: '0',
      LOG_LEVEL: 'silent',
      TURN_SECRET: secret,
      TURN_URLS: coturn.turnUrls.join(','),
      STUN_URLS: coturn.stunUrls.join(','),
    });
    service = await startTurnService(config, { logger, clock, telemetry: false });
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([coturn?.stop(), h?.cleanup()]);
  });

  it('answers svc.turn.credentials with STUN, then TURN with a TURN REST credential that expires', async () => {
    clock.set('2026-03-02T09:00:00Z');
    const res = await credentials({ userId, meetingId });
    expect(res.ttlSeconds).toBe(3600);
    expect(timestampDate(res.expiresAt!).toISOString()).toBe('2026-03-02T10:00:00.000Z');
    expect(res.iceServers[0]?.urls).toEqual(coturn.stunUrls);
    expect(res.iceServers[0]?.username).toBe('');
    const turn = res.iceServers[1]!;
    expect(turn.urls).toEqual(coturn.turnUrls);
    const expiry = Date.parse('2026-03-02T10:00:00Z') / 1000;
    expect(turn.username).toBe(`${expiry}:${userId}`);
    expect(turn.credential).toBe(createHmac('sha1', secret).update(turn.username).digest('base64'));
  });

  it('answers svc.turn.precall_credentials with TURN only and the short precall TTL', async () => {
    clock.set('2026-03-02T09:00:00Z');
    const res = await precall({ userId, meetingId });
    expect(res.ttlSeconds).toBe(300);
    expect(timestampDate(res.expiresAt!).toISOString()).toBe('2026-03-02T09:05:00.000Z');
    expect(res.iceServers).toHaveLength(1);
    const turn = res.iceServers[0]!;
    expect(turn.urls).toEqual(coturn.turnUrls);
    expect(turn.username).toBe(`${Date.parse('2026-03-02T09:05:00Z') / 1000}:${userId}`);
    expect(turn.credential).toBe(createHmac('sha1', secret).update(turn.username).digest('base64'));
    const bad = await precall({ userId: 'someone', meetingId }).catch((e) => e);
    expect(bad).toBeInstanceOf(ServiceError);
    expect(bad.field).toBe('userId');
  });

  it('a precall credential allocates a relay on coturn, and is refused once its few minutes have passed', async () => {
    const peer = await echoPeer('127.0.0.1');
    try {
      clock.set(new Date());
      const fresh = turnOf(await precall({ userId, meetingId }));
      const ok = await uclient({
        port: coturn.port,
        username: fresh.username,
        credential: fresh.credential,
        peer: '127.0.0.1',
        peerPort: peer.port,
        messages: 3,
        until: (p) => p.received >= 3,
      });
      expect(ok.allocationFailed, ok.output).toBe(false);
      expect(ok.received, ok.output).toBeGreaterThanOrEqual(3);
      // Issued six minutes ago with the 5-minute precall TTL: expired by coturn's clock.
      clock.set(new Date(Date.now() - 6 * 60_000));
      const old = turnOf(await precall({ userId, meetingId }));
      const refused = await uclient({ port: coturn.port, username: old.username, credential: old.credential, peer: '127.0.0.1', peerPort: peer.port });
      expect(refused.allocationFailed, refused.output).toBe(true);
    } finally {
      await peer.close();
    }
  });

  it('rejects a request without a valid userId or meetingId, naming the field', async () => {
    const badUser = await credentials({ userId: 'not-a-uuid', meetingId }).catch((e) => e);
    expect(badUser).toBeInstanceOf(ServiceError);
    expect(badUser.code).toBe('invalid_request');
    expect(badUser.field).toBe('userId');
    const badMeeting = await credentials({ userId, meetingId: 'MID-../evil' }).catch((e) => e);
    expect(badMeeting.code).toBe('invalid_request');
    expect(badMeeting.field).toBe('meetingId');
  });

  it('issued credentials allocate a relay on coturn that carries data to a peer and back', async () => {
    clock.set(new Date());
    const turn = turnOf(await credentials({ userId, meetingId }));
    const peer = await echoPeer('127.0.0.1');
    try {
      const r = await uclient({
        port: coturn.port,
        username: turn.username,
        credential: turn.credential,
        peer: '127.0.0.1',
        peerPort: peer.port,
        messages: 5,
        until: (p) => p.received >= 5,
      });
      expect(r.allocationFailed, r.output).toBe(false);
      expect(r.received, r.output).toBeGreaterThanOrEqual(5);
      expect(peer.received()).toBeGreaterThanOrEqual(5);
    } finally {
      await peer.close();
    }
  });

  it('two WebRTC peers given the issued ICE servers and forced to relay connect through coturn', async () => {
    clock.set(new Date());
    const res = await credentials({ userId, meetingId });
    const call = await relayCall(res.iceServers.map((s) => ({ urls: s.urls, username: s.username || undefined, credential: s.credential || undefined })));
    expect(call.received).toEqual(['pong from b', 'ping from a']);
    expect(call.selectedPair).toEqual({ local: 'relay', remote: 'relay' });
  });

  it('refuses a credential that has expired', async () => {
    // Issued two hours ago with a one-hour TTL: expired an hour ago by coturn's (real) clock.
    clock.set(new Date(Date.now() - 2 * 3600_000));
    const turn = turnOf(await credentials({ userId, meetingId }));
    clock.set(new Date());
    const peer = await echoPeer('127.0.0.1');
    try {
      const r = await uclient({ port: coturn.port, username: turn.username, credential: turn.credential, peer: '127.0.0.1', peerPort: peer.port });
      expect(r.allocationFailed, r.output).toBe(true);
      expect(r.code).not.toBe(0);
      expect(peer.received()).toBe(0);
    } finally {
      await peer.close();
    }
  });

  it('refuses a forged credential: signed with another secret, or a username changed after signing', async () => {
    clock.set(new Date());
    const forged = turnOf(iceServersFor({ ...config, TURN_SECRET: 'not-the-coturn-secret-0000' }, userId, clock.now()));
    const genuine = turnOf(await credentials({ userId, meetingId }));
    const [expiry] = genuine.username.split(':');
    const otherUser = `${expiry}:22222222-2222-4222-8222-222222222222`;
    const later = `${Number(expiry) + 86_400}:${userId}`;
    const peer = await echoPeer('127.0.0.1');
    try {
      for (const [username, credential] of [
        [forged.username, forged.credential],
        [otherUser, genuine.credential],
        [later, genuine.credential],
      ] as const) {
        const r = await uclient({ port: coturn.port, username, credential, peer: '127.0.0.1', peerPort: peer.port });
        expect(r.allocationFailed, `${username}\n${r.output}`).toBe(true);
      }
      expect(peer.received()).toBe(0);
    } finally {
      await peer.close();
    }
  });
});

describe('secret rotation', () => {
  const oldSecret = 'rotation-old-secret-0123456789';
  const newSecret = 'rotation-new-secret-0123456789';
  const base = { TURN_URLS: ['turn:127.0.0.1:3478?transport=udp'], STUN_URLS: [], TURN_TTL_SECONDS: 3600 };

  async function allocates(coturn: CoturnServer, signingSecret: string): Promise<boolean> {
    const turn = turnOf(iceServersFor({ ...base, TURN_SECRET: signingSecret }, userId, new Date()));
    const peer = await echoPeer('127.0.0.1');
    try {
      const r = await uclient({
        port: coturn.port,
        username: turn.username,
        credential: turn.credential,
        peer: '127.0.0.1',
        peerPort: peer.port,
        until: (p) => p.connected || p.allocationFailed,
      });
      return r.connected && !r.allocationFailed;
    } finally {
      await peer.close();
    }
  }

  it('coturn given the new and the previous secret accepts credentials signed with either; without the previous one, only the new', async () => {
    const during = await startCoturn({ secret: [newSecret, oldSecret], config: 'local' });
    try {
      expect(await allocates(during, oldSecret)).toBe(true);
      expect(await allocates(during, newSecret)).toBe(true);
    } finally {
      await during.stop();
    }
    const after = await startCoturn({ secret: newSecret, config: 'local' });
    try {
      expect(await allocates(after, newSecret)).toBe(true);
      expect(await allocates(after, oldSecret)).toBe(false);
    } finally {
      await after.stop();
    }
  });
});
