/**
 * Signaling alone, without gateways: N pairs of sessions, each side sending candidate-sized
 * signals at a fixed rate (open loop) through NATS and two signaling processes, one-way
 * latency measured from publish on signal.route to arrival on signal.deliver; then the
 * saturation rate. The end-to-end relay benchmark (through gateways) lives in bench/.
 *
 *   cd services/signaling && npx tsx bench/route-latency.ts [pairs=1000] [perSecond=5] [seconds=10]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connectNats, createLogger, encode, publishCore, servePartial } from '@lessoncall/kit';
import { freePort, repoRoot, startNats, waitFor } from '@lessoncall/kit/testing';
import { generateSessionId, ParticipantService, SignalEnvelopeSchema, subjects } from '@lessoncall/proto';

const [pairs = 1000, perSecond = 5, seconds = 10] = process.argv.slice(2).map(Number);
// Without authorization: the bench drives the subjects itself; its figures stay comparable with earlier runs.
const nats = await startNats({ auth: false });
const nc = await connectNats({ url: nats.url, name: 'route-latency', logger: createLogger('bench', { level: 'silent' }) });
const meetings = Array.from({ length: pairs }, (_, i) => ({
  meetingId: `MID-BENCH${String(i).padStart(11, '0')}`,
  a: generateSessionId(),
  b: generateSessionId(),
}));
await servePartial(
  nc,
  ParticipantService,
  {
    liveSessions: async (req) => ({
      sessions: meetings
        .filter((m) => !req.meetingId || m.meetingId === req.meetingId)
        .flatMap((m) => [
          { meetingId: m.meetingId, sessionId: m.a, userId: '' },
          { meetingId: m.meetingId, sessionId: m.b, userId: '' },
        ]),
    }),
  },
  { logger: createLogger('bench', { level: 'silent' }) },
);
await nc.flush();

const replicas = await Promise.all(
  [0, 1].map(async () => {
    const port = await freePort();
    // node itself (not npx): SIGTERM must reach the service, not a wrapper.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: join(repoRoot, 'services/signaling'),
      env: { ...process.env, NATS_URL: nats.url, HEALTH_PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await waitFor('signaling ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 30_000);
    return child;
  }),
);

const latencies: number[] = [];
let received = 0;
nc.subscribe('signal.deliver.>', {
  callback: (_e, msg) => {
    received++;
    const body = JSON.parse(new TextDecoder().decode(msg.data)) as { requestId: string };
    latencies.push(performance.now() - Number(body.requestId));
  },
});
await nc.flush();

const candidate = {
  type: 'candidate',
  candidate: {
    candidate: 'candidate:842163049 1 udp 1677729535 203.0.113.7 61923 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Xh4k',
    sdpMid: '0',
    sdpMLineIndex: 0,
  },
};
const send = (m: (typeof meetings)[number], fromA: boolean) =>
  publishCore(nc, subjects.signalRoute(m.meetingId), SignalEnvelopeSchema, {
    meetingId: m.meetingId,
    fromSessionId: fromA ? m.a : m.b,
    toSessionId: fromA ? m.b : m.a,
    requestId: String(performance.now()),
    signal: candidate,
  });
const bytes = encode(SignalEnvelopeSchema, {
  meetingId: meetings[0]!.meetingId,
  fromSessionId: meetings[0]!.a,
  toSessionId: meetings[0]!.b,
  requestId: '1234.5678',
  signal: candidate,
}).length;

// Open loop: every 5 ms, the sends due in that slice, spread over all sessions. The first
// 2 s warm the JIT up and are not counted.
const rate = pairs * 2 * perSecond;
async function openLoop(durationS: number): Promise<number> {
  const total = rate * durationS;
  let sent = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (sent < due) {
        send(meetings[(sent >> 1) % pairs]!, (sent & 1) === 0);
        sent++;
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  return total;
}
await openLoop(2);
await waitFor('warm-up delivered', () => received >= rate * 2, 30_000).catch(() => {});
latencies.length = 0;
received = 0;
const total = await openLoop(seconds);
await waitFor('all delivered', () => received >= total, 30_000).catch(() => {});
const pct = (p: number) => {
  const s = [...latencies].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2);
};
console.log(`open loop: ${pairs} pairs × 2 sides × ${perSecond}/s = ${rate} msg/s for ${seconds} s, ${bytes}-byte envelopes`);
console.log(`  delivered ${received}/${total}; one-way ms p50 ${pct(50)} p90 ${pct(90)} p99 ${pct(99)} max ${pct(100)}`);

// Saturation: bursts of 2,000 as fast as the publisher can, for 5 s.
latencies.length = 0;
received = 0;
let burstSent = 0;
const s0 = performance.now();
while (performance.now() - s0 < 5_000) {
  for (let i = 0; i < 2_000; i++, burstSent++) send(meetings[burstSent % pairs]!, (burstSent & 1) === 0);
  await nc.flush();
}
await waitFor('drained', () => received >= burstSent, 30_000).catch(() => {});
const elapsed = (performance.now() - s0) / 1000;
console.log(
  `saturation: sent ${burstSent} in 5 s, delivered ${received} in ${elapsed.toFixed(1)} s = ${Math.round(received / elapsed)} msg/s; p50 ${pct(50)} ms p99 ${pct(99)} ms`,
);

await Promise.all(
  replicas.map((c) => {
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    return exited;
  }),
);
await nc.close();
await nats.stop();
process.exit(0);
