/**
 * What one Janus node forwards: rooms of 2, 6 and 25 participants as `@roamhq/wrtc` peers, each
 * publishing synthetic video once and subscribing to the others (in the room of 25, to a page
 * of 8, as the grid's pagination does), for DURATION_S seconds per room.
 *
 *   pnpm exec tsx bench/sfu-room.ts       (SIZES=2,6,25 DURATION_S=15 PAGE=8 WIDTH=160 HEIGHT=120 FPS=10)
 *
 * Reported per room: forwarded video streams, Janus's CPU (its own utime+stime from /proc, in
 * cores) and streams per core, frames decoded per stream per second against the frames sent,
 * packet loss at the subscribers, and the publishers' RTT to the node (RTCP). The peers run in
 * this process on the same 2 cores as Janus: past a size, what saturates is the peers' decoding,
 * which the idle CPU and the frame rate show. Janus is started through the harness (the same
 * config the tests and `npm start` use), the room made over its Admin API as the media service
 * makes it. Writes bench/results/sfu-room.json.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startJanus } from '@lessoncall/kit/testing';
import type { SfuAccess } from '@lessoncall/proto';
import { JanusAdmin, roomJoinToken, signedJanusToken } from '../services/media/src/janus/index';
import { SfuPeer } from '../services/media/test/support/sfu-peer';
import { idleMeter } from './lib/rounds';

const sizes = (process.env.SIZES ?? '2,6,25').split(',').map(Number);
const durationS = Number(process.env.DURATION_S ?? 15);
const page = Number(process.env.PAGE ?? 8);
const width = Number(process.env.WIDTH ?? 160);
const height = Number(process.env.HEIGHT ?? 120);
const fps = Number(process.env.FPS ?? 10);

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function room(size: number) {
  const janus = await startJanus({ rtpPorts: 2_000 });
  const admin = new JanusAdmin(janus.adminUrl, { adminSecret: janus.adminSecret, roomAdminKey: janus.roomAdminKey, timeoutMs: 5_000 });
  const roomId = `MID-BENCH${String(size).padStart(11, '0')}`;
  const tokens = Array.from({ length: size }, () => roomJoinToken());
  await admin.createRoom({ room: roomId, secret: 'bench-room-secret', publishers: size + 1, allowed: tokens, record: false });
  const peers: SfuPeer[] = [];
  try {
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
      await peer.publish({ width, height, frameIntervalMs: Math.round(1000 / fps) });
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
      for (const id of watched) await peer.subscribe(id);
      streams += watched.length;
    }
    // Let every subscription settle (first keyframes), then measure.
    await new Promise((r) => setTimeout(r, 3_000));
    const framesBefore = peers.reduce((sum, p) => sum + [...p.framesFrom.values()].reduce((a, b) => a + b, 0), 0);
    const cpuBefore = cpuSeconds(janus.pid);
    const idle = idleMeter();
    const started = Date.now();
    await new Promise((r) => setTimeout(r, durationS * 1_000));
    const elapsed = (Date.now() - started) / 1000;
    const janusCores = (cpuSeconds(janus.pid) - cpuBefore) / elapsed;
    const { idleShare } = idle();
    const framesAfter = peers.reduce((sum, p) => sum + [...p.framesFrom.values()].reduce((a, b) => a + b, 0), 0);
    const stats = (await Promise.all(peers.map((p) => p.inboundStats()))).flat();
    const received = stats.reduce((a, s) => a + s.packetsReceived, 0);
    const lost = stats.reduce((a, s) => a + Math.max(0, s.packetsLost), 0);
    const rtts = (await Promise.all(peers.map((p) => p.publisherRttMs()))).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    const fpsPerStream = (framesAfter - framesBefore) / elapsed / streams;
    return {
      participants: size,
      forwardedStreams: streams,
      janusCores: round(janusCores, 3),
      streamsPerJanusCore: janusCores > 0 ? Math.round(streams / janusCores) : null,
      framesPerStreamPerSecond: round(fpsPerStream, 1),
      framesSentPerSecond: fps,
      deliveredShare: round(fpsPerStream / fps, 3),
      packetLoss: received + lost > 0 ? round(lost / (received + lost), 4) : null,
      publisherRttMsMedian: rtts.length ? round(rtts[Math.floor(rtts.length / 2)]!, 1) : null,
      machineIdleShare: idleShare,
    };
  } finally {
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
  settings: { durationS, page, width, height, fps },
  results,
};
await mkdir(join(repoRoot, 'bench/results'), { recursive: true });
await writeFile(join(repoRoot, 'bench/results/sfu-room.json'), `${JSON.stringify(out, null, 2)}\n`);
console.log('wrote bench/results/sfu-room.json');
