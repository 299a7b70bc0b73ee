import { describe, expect, it } from 'vitest';
import { GatewayError } from './errors';
import type { LoopbackSample, TransportResult, TurnTransport } from './precall';
import { type PrecallDeps, PrecallCheck, type PrecallSnapshot, serversByTransport } from './precall-check';

const credential = { username: '1767265200:u', credential: 'c2VjcmV0' };
const local = [{ urls: ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp'], ...credential }];

const track = (kind: string) => ({ kind, readyState: 'live' }) as MediaStreamTrack;

const goodSamples: LoopbackSample[] = [
  { atMs: 0, rttMs: 4, availableOutgoingKbps: 300, bytesSent: 0, framesDecoded: 0, audioEnergy: 0, audioLevel: 0 },
  { atMs: 1_000, rttMs: 4, availableOutgoingKbps: 2_000, bytesSent: 150_000, framesDecoded: 25, audioEnergy: 0.2, audioLevel: 0.1 },
];

/** Deps whose probes answer from a table; every call is recorded. */
function fakes(over: Partial<PrecallDeps> & { reach?: Partial<Record<TurnTransport, boolean>>; cameraOff?: boolean } = {}) {
  const calls: string[] = [];
  const deps: PrecallDeps = {
    credentials: async () => {
      calls.push('credentials');
      return local;
    },
    tracks: () => ({ audio: track('audio'), video: track('video'), cameraOff: over.cameraOff ?? false }),
    relay: async (t, server) => {
      calls.push(`relay ${t} ${String(server.urls)}`);
      return { transport: t, reachable: over.reach?.[t] ?? true, rttMs: 3 } satisfies TransportResult;
    },
    loopback: async (server, tracks) => {
      calls.push(`loopback ${String(server.urls)} ${tracks.video ? 'video' : 'no-video'}`);
      return goodSamples;
    },
    ...over,
  };
  return { deps, calls };
}

function record(check: PrecallCheck): PrecallSnapshot[] {
  const seen: PrecallSnapshot[] = [];
  check.subscribe(() => seen.push(check.getSnapshot()));
  return seen;
}

describe('serversByTransport', () => {
  it('gives each transport its own ICE server with only its URL and the credential', () => {
    expect(serversByTransport([{ urls: 'stun:x:3478' }, ...local, { urls: ['turns:t.example:5349?transport=tcp'], ...credential }])).toEqual({
      udp: { urls: ['turn:127.0.0.1:3478?transport=udp'], ...credential },
      tcp: { urls: ['turn:127.0.0.1:3478?transport=tcp'], ...credential },
      tls: { urls: ['turns:t.example:5349?transport=tcp'], ...credential },
    });
  });
});

describe('PrecallCheck', () => {
  it('asks for credentials, probes each offered transport, then calls itself over UDP, and says what it found', async () => {
    const { deps, calls } = fakes();
    const check = new PrecallCheck(deps);
    const seen = record(check);
    await check.start();
    expect(calls).toEqual([
      'credentials',
      'relay udp turn:127.0.0.1:3478?transport=udp',
      'relay tcp turn:127.0.0.1:3478?transport=tcp',
      'loopback turn:127.0.0.1:3478?transport=udp video',
    ]);
    expect(seen.map((s) => (s.phase === 'running' ? s.step : s.phase))).toEqual(['credentials', 'relay', 'relay', 'relay', 'loopback', 'done']);
    const done = check.getSnapshot();
    if (done.phase !== 'done') throw new Error(done.phase);
    // TLS is not offered by this server: not probed, not a failure.
    expect(done.result.transports).toEqual([
      { transport: 'udp', reachable: true, rttMs: 3 },
      { transport: 'tcp', reachable: true, rttMs: 3 },
      { transport: 'tls', reachable: undefined },
    ]);
    expect(done.result).toMatchObject({ rttMs: 4, uploadKbps: 2_000, uploadEstimated: true, camera: true, microphone: true });
    expect(done.verdict.level).toBe('good');
  });

  it('with UDP blocked it calls itself over TCP and says the network blocks UDP', async () => {
    const { deps, calls } = fakes({ reach: { udp: false } });
    const check = new PrecallCheck(deps);
    await check.start();
    expect(calls.at(-1)).toBe('loopback turn:127.0.0.1:3478?transport=tcp video');
    const done = check.getSnapshot();
    if (done.phase !== 'done') throw new Error(done.phase);
    expect(done.verdict).toEqual({
      level: 'warn',
      lines: ['Your network blocks UDP; the lesson will still work through our relay over TCP, with a little more delay.'],
    });
  });

  it('with no relay at all there is no loopback call; the devices are judged by their tracks', async () => {
    const { deps, calls } = fakes({ reach: { udp: false, tcp: false } });
    const check = new PrecallCheck(deps);
    await check.start();
    expect(calls.some((c) => c.startsWith('loopback'))).toBe(false);
    const done = check.getSnapshot();
    if (done.phase !== 'done') throw new Error(done.phase);
    expect(done.result).toMatchObject({ camera: true, microphone: true });
    expect(done.result.loopbackFailed).toBeUndefined();
    expect(done.verdict.level).toBe('bad');
    expect(done.verdict.lines[0]).toMatch(/could not reach our relay/);
  });

  it('a loopback call that does not connect is reported as such; a camera turned off is not sent nor tested', async () => {
    const sent: string[] = [];
    const { deps } = fakes({
      cameraOff: true,
      loopback: async (_server, tracks) => {
        sent.push(tracks.video ? 'video' : 'no-video');
        return undefined;
      },
    });
    const check = new PrecallCheck(deps);
    await check.start();
    expect(sent).toEqual(['no-video']);
    const done = check.getSnapshot();
    if (done.phase !== 'done') throw new Error(done.phase);
    expect(done.result).toMatchObject({ loopbackFailed: true, camera: undefined, microphone: true });
    expect(done.verdict.lines).toContain('Your camera is off, so it was not tested.');
  });

  it('a refused credentials request fails the check in the user’s words; it can run again', async () => {
    let refuse = true;
    const { deps } = fakes({
      credentials: async () => {
        if (refuse) throw new GatewayError('rate_limited', 'more than 6 connection checks per minute', { status: 429, retryAfterSeconds: 20 });
        return local;
      },
    });
    const check = new PrecallCheck(deps);
    await check.start();
    const failed = check.getSnapshot();
    if (failed.phase !== 'failed') throw new Error(failed.phase);
    expect(failed.error.code).toBe('rate_limited');
    expect(failed.error.retryable).toBe(true);
    refuse = false;
    await check.start();
    expect(check.getSnapshot().phase).toBe('done');
  });

  it('Join cancels a running check: the probes are told, nothing later lands, a second start while running does nothing', async () => {
    const pending: (() => void)[] = [];
    const release = () => {
      for (const p of pending) p();
    };
    const signals: AbortSignal[] = [];
    const { deps, calls } = fakes({
      relay: (t, _server, signal) => {
        calls.push(`relay ${t}`);
        signals.push(signal);
        return new Promise<TransportResult>((resolve) => {
          pending.push(() => resolve({ transport: t, reachable: true }));
        });
      },
    });
    const check = new PrecallCheck(deps);
    const run = check.start();
    await check.start(); // already running: returns at once
    await new Promise((r) => setTimeout(r, 0));
    expect(check.running).toBe(true);
    check.cancel();
    expect(check.getSnapshot()).toEqual({ phase: 'idle' });
    expect(signals.every((s) => s.aborted)).toBe(true);
    release();
    await run;
    expect(check.getSnapshot()).toEqual({ phase: 'idle' });
    expect(calls.filter((c) => c === 'credentials')).toHaveLength(1);
    expect(calls.some((c) => c.startsWith('loopback'))).toBe(false);
  });
});
