/**
 * What one Janus node forwards: rooms of 2, 6 and 25 participants as `@roamhq/wrtc` peers, each
 * publishing synthetic video once and subscribing to the others (in the room of 25, to a page
 * of 8, as the grid's pagination does), for DURATION_S seconds per room.
 *
 *   pnpm exec tsx bench/sfu-room.ts       (SIZES=2,6,25 DURATION_S=15 ROUNDS=3 PAGE=8 WIDTH=160 HEIGHT=120 FPS=10)
 *
 * Reported per room, as the median of ROUNDS windows: forwarded video streams, Janus's CPU (its
 * own utime+stime from /proc, in cores) and streams per core, frames decoded per stream per
 * second against the frames sent, packet loss at the subscribers, the publishers' RTT to the
 * node (RTCP), and the latency Janus adds: every frame carries its number (frame-stamp.ts), so
 * each decoded frame's capture-to-decode time is known; the anchor is a direct pair of peer
 * connections sending the same stamped video beside the room, on the same loaded cores, and the
 * added latency is the room's p50 minus the pair's. The peers run in
 * this process on the same 2 cores as Janus: past a size, what saturates is the peers' decoding,
 * which the idle CPU and the frame rate show. Janus is started through the harness (the same
 * config the tests and `npm start` use), the room made over its Admin API as the media service
 * makes it. Writes bench/results/sfu-room.json.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { startJanus } from '@lessoncall/kit/testing';
import type { SfuAccess } from '@lessoncall/proto';
import { JanusAdmin, roomJoinToken, signedJanusToken } from '../services/media/src/janus/index';
import { FrameLatency } from '../services/media/test/support/frame-stamp';
import { directPair, SfuPeer } from '../services/media/test/support/sfu-peer';
import { writeResult } from './lib/results';
import { medianOfRounds, ratio, runRounds } from './lib/rounds';
import { round, sleep, summarize } from './lib/stats';

const sizes = (process.env.SIZES ?? '2,6,25').split(',').map(Number);
const durationS = Number(process.env.DURATION_S ?? 15);
const page = Number(process.env.PAGE ?? 8);
const width = Number(process.env.WIDTH ?? 160);
const height = Number(process.env.HEIGHT ?? 120);
const fps = Number(process.env.FPS ?? 10);
const rounds = Number(process.env.ROUNDS ?? 3);

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function room(size: number) {
  const janus = await startJanus({ rtpPorts: 2_000 });
  const admin = new JanusAdmin(janus.adminUrl, { adminSecret: janus.adminSecret, roomAdminKey: janus.roomAdminKey, timeoutMs: 5_000 });
  const roomId = `MID-BENCH${String(size).padStart(11, '0')}`;
  const tokens = Array.from({ length: size }, () => roomJoinToken());
  await admin.createRoom({ room: roomId, secret: 'bench-room-secret', publishers: size + 1, allowed: tokens, record: false });
  const peers: SfuPeer[] = [];
  const latency = new FrameLatency();
  const anchor = new FrameLatency();
  let pair: Awaited<ReturnType<typeof directPair>> | undefined;
  try {
    pair = await directPair({ width, height, frameIntervalMs: Math.round(1000 / fps), latency: anchor });
    for (const [i, token] of tokens.entries()) {
      const access: SfuAccess = {
        $typeName: 'lessoncall.v1.SfuAccess',
        meetingId: roomId,
        roomId,
        url: janus.wsUrl,
        joinToken: token,
        janusToken: signedJanusToken(janus.tokenSecret, new Date(), 3_600).token,
        publisherId: `peer-${i}`,
        generation: 1,
        record: false,
        reconnect: false,
      };
      const peer = await SfuPeer.connect(access);
      await peer.publish({ width, height, frameIntervalMs: Math.round(1000 / fps), latency });
      peers.push(peer);
    }
    const ids = peers.map((p) => p.access.publisherId);
    // A feed can be subscribed to once Janus has its media (it announces the publisher then).
    const deadline = Date.now() + 60_000;
    while (!peers.every((p, i) => ids.every((id, j) => j === i || p.publishers.has(id)))) {
      if (Date.now() > deadline) throw new Error('not every publisher was announced within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    let streams = 0;
    for (const [i, peer] of peers.entries()) {
      // The next `page` publishers after oneself (everyone when the room is smaller).
      const others = ids.filter((_, j) => j !== i);
      const watched = Array.from({ length: Math.min(page, others.length) }, (_, k) => others[(i + k) % others.length]!);
      for (const id of watched) await peer.subscribe(id, latency);
      streams += watched.length;
    }
    // Let every subscription settle (first keyframes), then measure in rounds; the anchor, a
    // direct pair sending the same stamped video, runs beside the room the whole time, on the
    // same loaded cores, so that its latency is what the machine gives without Janus.
    await sleep(3_000);
    const frames = () => peers.reduce((sum, p) => sum + [...p.framesFrom.values()].reduce((a, b) => a + b, 0), 0);
    const measured = await runRounds(
      rounds,
      async () => {
        latency.reset();
        anchor.reset();
        const framesBefore = frames();
        const cpuBefore = cpuSeconds(janus.pid);
        const started = Date.now();
        await sleep((durationS * 1_000) / rounds);
        const elapsed = (Date.now() - started) / 1000;
        const janusCores = (cpuSeconds(janus.pid) - cpuBefore) / elapsed;
        const fpsPerStream = (frames() - framesBefore) / elapsed / streams;
        const viaJanus = summarize(latency.samples);
        const direct = summarize(anchor.samples);
        return {
          janusCores: round(janusCores, 3),
          framesPerStreamPerSecond: round(fpsPerStream, 1),
          latencyMs: viaJanus,
          unreadableFrames: latency.unreadable,
          directLatencyMs: direct,
          addedLatencyP50Ms: round(viaJanus.p50 - direct.p50, 1),
        };
      },
      {
        label: (r) =>
          `room of ${size}: Janus ${r.janusCores} cores, ${r.framesPerStreamPerSecond} fps a stream, frame latency p50 ${r.latencyMs.p50} ms (direct pair ${r.directLatencyMs.p50} ms)`,
      },
    );
    const stats = (await Promise.all(peers.map((p) => p.inboundStats()))).flat();
    const received = stats.reduce((a, s) => a + s.packetsReceived, 0);
    const lost = stats.reduce((a, s) => a + Math.max(0, s.packetsLost), 0);
    const rtts = (await Promise.all(peers.map((p) => p.publisherRttMs()))).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    const headline = medianOfRounds(measured, {
      janusCores: (r) => r.janusCores,
      framesPerStreamPerSecond: (r) => r.framesPerStreamPerSecond,
      latencyP50Ms: (r) => r.latencyMs.p50,
      latencyP90Ms: (r) => r.latencyMs.p90,
      directLatencyP50Ms: (r) => r.directLatencyMs.p50,
      addedLatencyP50Ms: (r) => r.addedLatencyP50Ms,
    });
    const cores = headline.median.janusCores;
    return {
      participants: size,
      forwardedStreams: streams,
      janusCores: cores,
      streamsPerJanusCore: cores > 0 ? Math.round(streams / cores) : null,
      framesPerStreamPerSecond: headline.median.framesPerStreamPerSecond,
      framesSentPerSecond: fps,
      deliveredShare: round(headline.median.framesPerStreamPerSecond / fps, 3),
      /** Capture to decode through Janus, median over the rounds of each round's p50 / p90. */
      frameLatencyMs: { p50: headline.median.latencyP50Ms, p90: headline.median.latencyP90Ms },
      /** The anchor: the same stamped video between two peer connections with nothing between them, beside the room. */
      directPairLatencyMsP50: headline.median.directLatencyP50Ms,
      /** Janus's share: median over the rounds of (room p50 − direct pair p50). */
      addedLatencyMsP50: headline.median.addedLatencyP50Ms,
      ratioToDirectPair: ratio(headline.median.latencyP50Ms, headline.median.directLatencyP50Ms),
      packetLoss: received + lost > 0 ? round(lost / (received + lost), 4) : null,
      publisherRttMsMedian: rtts.length ? round(rtts[Math.floor(rtts.length / 2)]!, 1) : null,
      machineIdleShare: headline.idleShare,
      range: headline.range,
      rounds: measured,
    };
  } finally {
    pair?.close();
    await Promise.all(peers.map((p) => p.close().catch(() => {})));
    admin.close();
    await janus.stop();
  }
}

const results = [];
for (const size of sizes) {
  const r = await room(size);
  console.log(JSON.stringify(r));
  results.push(r);
}
const out = {
  benchmark: 'sfu-room',
  when: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model },
  settings: { durationS, rounds, page, width, height, fps },
  headline:
    'per room, the median over the rounds of each figure (never the best round); the anchor, a direct pair of peer connections sending the same stamped video, runs beside the room on the same cores',
  results,
};
await writeResult('sfu-room.json', out);
console.log('wrote bench/results/sfu-room.json');
