import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, type NatsConnection } from '@lessoncall/kit';
import { type Harness, type JanusServer, setup, startJanus } from '@lessoncall/kit/testing';
import type { MediaService as RunningMedia } from '@lessoncall/media';
import { MediaService, ParticipantService, rpcQueue, rpcServices, rpcSubject, TurnService } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, startBackend, startTestMedia } from './helpers';

interface InfoEndpoint {
  name: string;
  subject: string;
  queue_group?: string;
}
interface StatsEndpoint extends InfoEndpoint {
  num_requests: number;
  num_errors: number;
}

/**
 * `nats micro ls` / `info` / `stats` against the real services, with the production permission
 * matrix (the harness runs NATS with it): every service declared in proto answers $SRV as
 * itself, lists each of its methods on the subject and queue group the descriptor names, and
 * counts the requests and errors it answered. Only the operator may ask.
 */
describe('$SRV discovery of the services declared in proto', () => {
  let h: Harness;
  let backend: Backend;
  let janus: JanusServer;
  let media: RunningMedia;
  let operator: NatsConnection;
  let recordingsDir: string;

  const ask = async <T>(subject: string): Promise<T> => {
    const reply = await operator.request(subject, undefined, { timeout: 5_000 });
    return JSON.parse(new TextDecoder().decode(reply.data)) as T;
  };

  beforeAll(async () => {
    const secret = () => randomBytes(18).toString('base64url');
    const shared = { adminSecret: secret(), tokenSecret: secret(), roomAdminKey: secret() };
    recordingsDir = await mkdtemp(join(tmpdir(), 'lessoncall-discovery-'));
    [h, janus] = await Promise.all([setup({ postgres: true }), startJanus({ ...shared, name: 'node-a' })]);
    backend = await startBackend(h);
    media = await startTestMedia(h, [janus], shared, { RECORDINGS_SIGNING_SECRET: secret(), RECORDINGS_DIR: recordingsDir });
    operator = await h.connectAs('operator');
  });
  afterAll(async () => {
    await media?.stop();
    await backend?.stop();
    await janus?.stop();
    await h?.cleanup();
    await rm(recordingsDir, { recursive: true, force: true });
  });

  it('lists every endpoint of every service with its subject, queue group and request counts', async () => {
    // One answered request on the turn service, one refused on the media service, two on participant.
    const m = await backend.createMeeting();
    await client(h.nc, TurnService, { timeoutMs: 5_000 }).turnCredentials({ userId: m.tutorId, meetingId: m.meetingId });
    const refused = await client(h.nc, MediaService, { timeoutMs: 5_000 })
      .recordingLink({ meetingId: m.meetingId, userId: randomUUID() })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'meeting_not_found' });
    const participants = client(h.nc, ParticipantService, { timeoutMs: 5_000 });
    await participants.liveSessions({ meetingId: m.meetingId });
    await participants.liveSessions({ meetingId: m.meetingId });

    for (const service of rpcServices) {
      const name = rpcQueue(service);
      const expected = service.methods.map((method) => ({ name: method.name, subject: rpcSubject(method), queue_group: name }));

      const info = await ask<{ name: string; description: string; endpoints: InfoEndpoint[] }>(`$SRV.INFO.${name}`);
      expect(info.name).toBe(name);
      expect(info.description).toBe(service.typeName);
      expect(info.endpoints.map(({ name, subject, queue_group }) => ({ name, subject, queue_group }))).toEqual(expected);

      const stats = await ask<{ name: string; endpoints: StatsEndpoint[] }>(`$SRV.STATS.${name}`);
      expect(stats.endpoints.map((e) => e.subject)).toEqual(expected.map((e) => e.subject));
    }

    const statsOf = async (name: string, method: string) =>
      (await ask<{ endpoints: StatsEndpoint[] }>(`$SRV.STATS.${name}`)).endpoints.find((e) => e.name === method);
    expect(await statsOf('turn', 'TurnCredentials')).toMatchObject({ num_requests: 1, num_errors: 0 });
    // Answered with an error reply, still one request. (num_errors stays 0: @nats-io/services
    // 3.0.0-25 counts only a handler's synchronous throw, and every handler here is async.)
    expect(await statsOf('media', 'RecordingLink')).toMatchObject({ num_requests: 1 });
    expect((await statsOf('participant', 'LiveSessions'))?.num_requests).toBeGreaterThanOrEqual(2);
    // createMeeting answered at least the one above (the participant service may have asked others).
    expect((await statsOf('meeting', 'CreateMeeting'))?.num_requests).toBeGreaterThanOrEqual(1);

    const pings = await ask<{ name: string }>('$SRV.PING.meeting');
    expect(pings.name).toBe('meeting');
  });

  it('answers only the operator: a service role may not ask', async () => {
    const gateway = await h.connectAs('gateway');
    await expect(gateway.request('$SRV.INFO.meeting', undefined, { timeout: 1_000 })).rejects.toThrow();
  });
});
