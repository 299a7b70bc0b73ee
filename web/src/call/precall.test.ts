import { describe, expect, it } from 'vitest';
import { describePrecall, type PrecallResult, turnUrlsByTransport } from './precall';

const all: PrecallResult = {
  transports: [
    { transport: 'udp', reachable: true, rttMs: 40 },
    { transport: 'tcp', reachable: true, rttMs: 45 },
    { transport: 'tls', reachable: true, rttMs: 60 },
  ],
  uploadKbps: 2500,
  camera: true,
  microphone: true,
};

describe('turnUrlsByTransport', () => {
  it('picks one URL per transport and ignores STUN', () => {
    expect(
      turnUrlsByTransport([
        'stun:t.example:3478',
        'turn:t.example:3478?transport=udp',
        'turn:t.example:3478?transport=tcp',
        'turns:t.example:5349?transport=tcp',
        'turn:other:3478',
      ]),
    ).toEqual({ udp: 'turn:t.example:3478?transport=udp', tcp: 'turn:t.example:3478?transport=tcp', tls: 'turns:t.example:5349?transport=tcp' });
  });
});

describe('describePrecall', () => {
  it('says everything works when it does', () => {
    expect(describePrecall(all)).toEqual({ level: 'good', lines: ['Everything works: your network, camera and microphone are ready for the lesson.'] });
  });

  it('explains blocked UDP as a caveat, not a failure', () => {
    const v = describePrecall({ ...all, transports: [{ transport: 'udp', reachable: false }, ...all.transports.slice(1)] });
    expect(v.level).toBe('warn');
    expect(v.lines).toEqual(['Your network blocks UDP; the lesson will still work through our relay over TCP, with a little more delay.']);
  });

  it('fails when no transport reaches the relay or the microphone is dead', () => {
    const blocked = describePrecall({ ...all, transports: all.transports.map((t) => ({ ...t, reachable: false })) });
    expect(blocked.level).toBe('bad');
    expect(blocked.lines[0]).toMatch(/could not reach our relay/);
    expect(describePrecall({ ...all, microphone: false }).level).toBe('bad');
  });

  it('warns about low upload, slow answers and a missing camera, using the best transport’s RTT', () => {
    const v = describePrecall({ ...all, uploadKbps: 180, camera: false, transports: [{ transport: 'tcp', reachable: true, rttMs: 420 }] });
    expect(v.level).toBe('warn');
    expect(v.lines).toEqual([
      'The connection is slow to answer (420 ms); expect a short delay when you talk.',
      'Your upload is low (180 kbit/s): the other side will see lower-quality video; audio comes first.',
      'Your camera is not working; the other side will see your name instead of video.',
    ]);
  });

  it('calls a middling upload enough without lowering the verdict', () => {
    expect(describePrecall({ ...all, uploadKbps: 800 })).toEqual({
      level: 'good',
      lines: ['Your upload (800 kbit/s) is enough for the lesson, not for full video quality.'],
    });
  });
});
