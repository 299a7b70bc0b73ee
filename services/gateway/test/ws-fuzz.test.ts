import { readFileSync } from 'node:fs';
import { errorCodeNames } from '@lessoncall/kit';
import { freePort, type Harness, seededRandom, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { signDevToken } from '../src/auth/index';
import { type Backend, startBackend, type TestMeeting, testSecret } from './helpers';
import { WsClient } from './ws-client';
import { type ServiceProcess, spawnService } from './ws-stack';

const seed = Number(process.env.FUZZ_SEED ?? 20260205);
const maxMessageBytes = 65_536;
const abuseBytes = maxMessageBytes * 4;
const fuzzSockets = 4;
const framesPerSocket = 1_500;

function vmRssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

describe('WebSocket fuzzing: malformed, hostile and oversized frames', () => {
  let h: Harness;
  let backend: Backend;
  let gateway: ServiceProcess;
  let secret: string;
  let wsUrl: string;
  const issuer = 'http://127.0.0.1/auth/v1';
  const token = (userId: string) => signDevToken({ JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: 'authenticated' }, { userId });

  beforeAll(async () => {
    h = await setup({ postgres: true });
    backend = await startBackend(h);
    secret = testSecret();
    const port = await freePort();
    gateway = await spawnService(
      'gateway',
      {
        ...h.natsEnv('gateway'),
        PORT: String(port),
        HOST: '127.0.0.1',
        GATEWAY_ID: 'gw-fuzz',
        JWT_SECRET: secret,
        JWT_ISSUER: issuer,
        WS_MAX_MESSAGE_BYTES: String(maxMessageBytes),
        // High enough that the parser sees (nearly) every fuzz frame instead of the rate limiter.
        WS_RATE_PER_SECOND: '1000',
        WS_HEARTBEAT_MS: '2000',
        // Every fuzzed socket comes from one address: the per-address upgrade limit is ops-limits.test's, not this test's.
        WS_UPGRADES_PER_MINUTE: '100000',
        WS_UPGRADE_BURST: '100000',
        WS_MAX_SOCKETS_PER_CLIENT: '100000',
      },
      port,
    );
    wsUrl = `ws://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await gateway?.stop();
    await backend?.stop();
    await h?.cleanup();
  });

  async function join(m: TestMeeting, userId: string) {
    const c = await WsClient.open(wsUrl);
    const welcome = await c.hello({ accessToken: await token(userId), meetingId: m.meetingId, passcode: m.passcode, displayName: 'good' });
    return { c, welcome };
  }

  it('keeps serving a good pair while thousands of bad frames arrive', async () => {
    const rnd = seededRandom(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));

    const m = await backend.createMeeting();
    const tutor = await join(m, m.tutorId);
    const student = await join(m, m.studentId);
    const other = await backend.createMeeting();
    const rssBefore = vmRssKb(gateway.pid);

    const targets = [tutor.welcome.sessionId, student.welcome.sessionId];
    const valid = () =>
      pick([
        { requestId: 'v', ping: { sentAtMs: String(int(0, 1e9)) } },
        { requestId: 'v', signal: { toSessionId: pick(targets), signal: { type: 'offer', sdp: 'v=0' } } },
        { requestId: 'v', media: { kind: 'audio', muted: true } },
        { requestId: 'v', hello: { accessToken: 'x', meetingId: m.meetingId, passcode: '000000' } },
        { requestId: 'v', leave: {} },
      ]);
    const junk = (): unknown =>
      pick([null, true, 0, -1, 1e308, 'str', [], [1, 'a'], {}, { a: { b: { c: [] } } }, 'x'.repeat(int(0, 2000)), Number.MAX_SAFE_INTEGER]);
    const mutate = (v: unknown, depth = 0): unknown => {
      if (v === null || typeof v !== 'object' || depth > 4) return rnd() < 0.3 ? junk() : v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const r = rnd();
        if (r < 0.1) continue;
        out[r < 0.2 ? `${k}_${int(0, 9)}` : k] = r < 0.5 ? junk() : mutate(x, depth + 1);
      }
      return out;
    };
    /** One bad frame and whether it is sent as binary. */
    const frame = (): [string | Buffer, boolean] => {
      switch (int(0, 13)) {
        case 0:
          return [bytes(int(1, 512)), rnd() < 0.5];
        case 1: {
          const text = JSON.stringify(valid());
          return [text.slice(0, int(0, text.length - 1)), false];
        }
        case 2:
          return [JSON.stringify(mutate(valid())), false];
        case 3:
          // Huge strings under the cap.
          return [
            JSON.stringify({
              requestId: 'x'.repeat(int(100, 1000)),
              signal: { toSessionId: 'y'.repeat(int(10, 30_000)), signal: { type: 'offer', sdp: 'z'.repeat(int(0, 30_000)) } },
            }),
            false,
          ];
        case 4:
          // Over the cap, under the abuse threshold: message_too_large.
          return [JSON.stringify({ requestId: 'big', ping: {}, pad: 'p'.repeat(int(maxMessageBytes, abuseBytes - 100)) }), rnd() < 0.5];
        case 5:
          return [JSON.stringify({ requestId: 'u', [pick(['teleport', 'Hello', 'HELLO', 'signal_', 'kind', '$typeName', '@type'])]: { to: 'mars' } }), false];
        case 6: {
          const depth = int(1_000, 20_000);
          return [`${'['.repeat(depth)}${']'.repeat(depth)}`, false];
        }
        case 7:
          return [
            pick(['{"__proto__":{"hello":{}}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"requestId":"p","__proto__":{"kind":"hello"}}']),
            false,
          ];
        case 8:
          return [JSON.stringify({ requestId: 'n', [pick(['signal', 'hello', 'media', 'ping', 'leave'])]: junk() }), false];
        case 9:
          return [
            JSON.stringify({ signal: { toSessionId: pick(['*', '>', 'a.b', '', ' ', 'a b', 'ä', '\u0000', 'x'.repeat(200)]), signal: { type: 'offer' } } }),
            false,
          ];
        case 10:
          return [pick(['{}{}', '{"ping":{}} {"ping":{}}', '', ' ', '\n', 'null', '"ping"', '1', '{"ping":{},"hello":{}}']), false];
        case 11:
          return [JSON.stringify({ ping: { sentAtMs: pick(['18446744073709551616', '-1', '1.5', 'NaN', 'abc', 1e30]) } }), false];
        case 12:
          return [Buffer.concat([Buffer.from('{"requestId":"'), bytes(int(1, 64)), Buffer.from('","ping":{}}')]), false];
        default:
          return [JSON.stringify(valid()), false];
      }
    };

    // The good pair relays one candidate each way every 20 ms throughout.
    const received = { tutor: 0, student: 0 };
    const strangers: string[] = [];
    tutor.c.ws.on('message', (d) => {
      const msg = JSON.parse(d.toString());
      if (msg.signal) msg.signal.fromSessionId === student.welcome.sessionId ? received.tutor++ : strangers.push(msg.signal.fromSessionId);
    });
    student.c.ws.on('message', (d) => {
      const msg = JSON.parse(d.toString());
      if (msg.signal) msg.signal.fromSessionId === tutor.welcome.sessionId ? received.student++ : strangers.push(msg.signal.fromSessionId);
    });
    let sent = 0;
    const candidate = { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 } };
    const relay = setInterval(() => {
      tutor.c.send({ kind: { case: 'signal', value: { toSessionId: student.welcome.sessionId, signal: candidate } } });
      student.c.send({ kind: { case: 'signal', value: { toSessionId: tutor.welcome.sessionId, signal: candidate } } });
      sent++;
    }, 20);

    // One fuzz socket per "attacker"; one of them is a real session of another meeting trying to inject.
    const closeCodes: number[] = [];
    const errorCodes = new Set<string>();
    let frames = 0;
    let answers = 0;
    const fuzz = async (index: number) => {
      const connect = async () => {
        const ws = new WebSocket(`${wsUrl}/api/video/ws`);
        ws.on('error', () => {});
        ws.on('message', (d) => {
          answers++;
          const msg = JSON.parse(d.toString());
          if (msg.error) errorCodes.add(msg.error.code);
        });
        ws.on('close', (code) => closeCodes.push(code));
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        if (index === 0) {
          // Joined before fuzzing, so its signals to the good pair meet the meeting check (not_in_meeting), not "say hello first".
          const welcomed = new Promise<void>((resolve, reject) => {
            ws.on('message', (d) => JSON.parse(d.toString()).welcome && resolve());
            ws.once('close', (code) => reject(new Error(`the injecting socket closed (${code}) before its welcome`)));
          });
          ws.send(JSON.stringify({ hello: { accessToken: await token(other.tutorId), meetingId: other.meetingId, passcode: other.passcode } }));
          await welcomed;
        }
        return ws;
      };
      let ws = await connect();
      for (let i = 0; i < framesPerSocket; i++) {
        if (ws.readyState !== WebSocket.OPEN) ws = await connect();
        const [data, binary] = frame();
        ws.send(data, { binary });
        frames++;
        // ~500 frames/s per socket: half the per-session rate, so the parser (not the limiter) sees them.
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 20));
        // Now and then a frame far over the cap: ws closes that socket (1009) and the attacker reconnects.
        if (i % 500 === 499) ws.send(Buffer.alloc(abuseBytes + 1, 0x20));
      }
      await new Promise((r) => setTimeout(r, 500));
      ws.close();
    };
    await Promise.all(Array.from({ length: fuzzSockets }, (_, i) => fuzz(i)));
    clearInterval(relay);
    await new Promise((r) => setTimeout(r, 500));

    expect(frames).toBe(fuzzSockets * framesPerSocket);
    // The gateway answered the fuzzers (with errors naming known codes) instead of dying or hanging.
    expect(answers).toBeGreaterThan(frames / 2);
    expect([...errorCodes].every((c) => (errorCodeNames as readonly string[]).includes(c))).toBe(true);
    expect(errorCodes).toContain('invalid_request');
    expect(errorCodes).toContain('message_too_large');
    expect(errorCodes).toContain('not_in_meeting');
    // Sockets were closed only for abuse: frames far over the cap (1009), repeated failed hellos (1008), or by the fuzzer itself.
    expect(closeCodes.every((c) => [1000, 1005, 1008, 1009].includes(c))).toBe(true);
    expect(closeCodes).toContain(1009);

    // The good pair never noticed: everything relayed, nothing injected.
    expect(sent).toBeGreaterThan(50);
    expect(received).toEqual({ tutor: sent, student: sent });
    expect(strangers).toEqual([]);
    expect(tutor.c.ws.readyState).toBe(WebSocket.OPEN);
    expect(student.c.ws.readyState).toBe(WebSocket.OPEN);

    // Alive, ready, memory sane.
    expect((await fetch(`${gateway.url}/readyz`)).ok).toBe(true);
    const rssAfter = vmRssKb(gateway.pid);
    expect(rssAfter - rssBefore).toBeLessThan(150 * 1024);
    console.log(
      `fuzz: ${frames} frames, ${answers} answers, errors ${[...errorCodes].join(',')}, closes ${closeCodes.length}, RSS ${rssBefore} -> ${rssAfter} kB`,
    );
  });
});
