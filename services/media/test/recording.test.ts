import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromJson } from '@bufbuild/protobuf';
import { type ServiceError, client } from '@lessoncall/kit';
import { RecordingReadySchema, MeetingService, MediaService } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMediaStack, type MediaStack } from './helpers';
import { SfuPeer } from './support/sfu-peer';

const run = promisify(execFile);

/** The power of one frequency in a signal (the Goertzel filter). */
function goertzel(samples: Int16Array, sampleRate: number, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

describe('recording: Janus → janus-pp-rec → ffmpeg → storage → recording_url', () => {
  let s: MediaStack;
  const peers: SfuPeer[] = [];

  beforeAll(async () => {
    s = await startMediaStack({ nodes: 1 });
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close().catch(() => {})));
    await s?.stop();
  });

  it('a recorded 1:1 lesson becomes one WebM with both people, stored, linked from the meeting, only for its people', async () => {
    const m = await s.createMeeting({ students: 1, record: true });
    const ready = new Promise<ReturnType<typeof fromJson<typeof RecordingReadySchema>>>((resolve) => {
      const sub = s.h.nc.subscribe(`recording.ready.${m.meetingId}`, {
        callback: (_e, msg) => {
          sub.unsubscribe();
          resolve(fromJson(RecordingReadySchema, msg.json()));
        },
      });
    });
    const tutorAccess = await s.access(m, m.tutorId, await s.join(m, m.tutorId));
    const studentAccess = await s.access(m, m.studentId, await s.join(m, m.studentId));
    expect(tutorAccess.record).toBe(true);
    const tutor = await SfuPeer.connect(tutorAccess);
    const student = await SfuPeer.connect(studentAccess);
    peers.push(tutor, student);
    await tutor.publish({ toneHz: 440 });
    await student.publish({ toneHz: 660 });
    await student.subscribe(tutorAccess.publisherId);
    // Media flows (so Janus writes it) for a few seconds.
    await expect.poll(() => student.framesFrom.get(tutorAccess.publisherId) ?? 0, { timeout: 15_000 }).toBeGreaterThan(30);
    await new Promise((r) => setTimeout(r, 1_500));

    await s.end(m);
    const event = await ready;
    expect(event).toMatchObject({ meetingId: m.meetingId, storageKey: `recordings/${m.meetingId}.webm`, tracks: 2 });
    expect(event.recordingUrl).toBe(`http://lessons.test/api/video/meetings/${m.meetingId}/recording`);
    expect(event.durationSeconds).toBeGreaterThan(2);

    const file = join(s.recordingsDir, event.storageKey);
    expect(existsSync(file)).toBe(true);
    const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file])).stdout) as {
      streams: { codec_type: string; codec_name: string }[];
    };
    expect(probe.streams.map((x) => `${x.codec_type}:${x.codec_name}`).sort()).toEqual(['audio:opus', 'video:vp8']);
    // Decodes from start to end without an error.
    await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']);
    // Both voices: the mix holds the tutor's 440 Hz and the student's 660 Hz, far above a tone nobody sent.
    const raw = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:a', '-ac', '1', '-ar', '8000', '-f', 's16le', '-'], {
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
    });
    const bytes = raw.stdout as unknown as Buffer;
    const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 2));
    expect(pcm.length).toBeGreaterThan(8_000);
    const power = (hz: number) => goertzel(pcm, 8_000, hz);
    expect(power(440)).toBeGreaterThan(power(1_000) * 50);
    expect(power(660)).toBeGreaterThan(power(1_000) * 50);

    const describe = async () =>
      (
        await client(s.h.nc, MeetingService, {
          timeoutMs: 5_000,
        }).describeMeeting({ meetingId: m.meetingId })
      ).meeting;
    await expect.poll(async () => (await describe())?.recordingUrl, { timeout: 10_000 }).toBe(event.recordingUrl);
    expect((await describe())?.record).toBe(true);

    const link = (userId: string) =>
      client(s.h.nc, MediaService, {
        timeoutMs: 5_000,
      }).recordingLink({ meetingId: m.meetingId, userId });
    const signed = new URL((await link(m.studentId)).url);
    expect(signed.pathname).toBe(`/api/video/recordings/recordings/${m.meetingId}.webm`);
    expect(signed.searchParams.get('signature')).toBeTruthy();
    const stranger = await link(randomUUID()).then(
      () => undefined,
      (e: unknown) => e as ServiceError,
    );
    expect(stranger?.code).toBe('meeting_not_found');
  });
});
