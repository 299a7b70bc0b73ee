/**
 * Signaling relay: client → client one-way latency and throughput of candidate-sized messages.
 *
 *   pnpm exec tsx bench/signaling-relay.ts       (PAIRS=1000 RATE=5 MEASURE_S=15 ROUNDS=5 SATURATION_S=4 SATURATION_ROUNDS=3 WINDOW=4)
 *
 * Four relays carry the same traffic from the same load generator (this process, 2·PAIRS
 * WebSockets each), one after another:
 *   - lessoncall: 2 gateway and 2 signaling processes, meeting and participant services too
 *     (every session is a real join). Each lesson's two sockets on the gateway its meeting
 *     hashes to, as the chart's WebSocket ingress routes them (?meeting=): client → gateway →
 *     client, the gateway deciding from its roster view fed by the participant events.
 *   - lessoncall split: the same stack, each lesson's two sides on different gateways (a lesson
 *     whose gateway went away, an ingress without the hash): client → gateway → NATS
 *     (signal.deliver.<session>) → gateway → client, or through the signaling service when the
 *     view cannot decide.
 *   - peerjs: a PeerJS server (npm `peer`, `PeerServer`) in its own process, driven with its own
 *     websocket protocol ({type: 'CANDIDATE', dst, payload}), as PeerJS clients speak it.
 *   - bare-ws: a bare `ws` relay in its own process (bench/lib/bare-relay.ts): the floor.
 *
 * Open loop: every side sends RATE messages/s on a fixed schedule, whatever comes back; latency
 * is receive time − send time (one clock: both ends are in this process). The measuring time is
 * split into ROUNDS windows that take turns between the relays (all three stay connected), so a
 * burst of other work on a shared machine does not fall on one relay only; each window records
 * the CPU the relay, the generator and everything else used, and the machine's idle CPU. Then
 * SATURATION_ROUNDS of saturation, again taking turns: closed loop, each side keeps WINDOW
 * messages in flight, for the delivered messages/s. Every window ends with a sentinel from each
 * side, so lost messages are counted, not guessed. The headline of each figure is its median
 * over the rounds, never the best round; ratios are to PeerJS in the same run.
 * Loopback only. Writes bench/results/signaling-relay.json.
 */

import { cpus, loadavg } from 'node:os';
import { freePort } from '@lessoncall/kit/testing';
import { WebSocket } from 'ws';
import { bounded, runBenchmark } from './lib/lifecycle';
import { cpuMeter, natsPid, type Proc, rssKb, startProcess, waitListening } from './lib/processes';
import { idleMeter, medianOfRounds, type Round, ratio } from './lib/rounds';
import { type Stack, startStack } from './lib/stack';
import { count, round, sleep, summarize } from './lib/stats';
import { writeResult } from './lib/results';

const pairs = Number(process.env.PAIRS ?? 1_000);
const ratePerSide = Number(process.env.RATE ?? 5);
const warmupS = Number(process.env.WARMUP_S ?? 1);
/** Total open-loop measuring time per relay, split over ROUNDS windows interleaved with the other relays. */
const measureS = Number(process.env.MEASURE_S ?? 15);
const rounds = Number(process.env.ROUNDS ?? 5);
const saturationS = Number(process.env.SATURATION_S ?? 4);
const saturationRounds = Number(process.env.SATURATION_ROUNDS ?? 3);
const windowPerSide = Number(process.env.WINDOW ?? 4);
const connectConcurrency = 64;
/** The whole run is bounded: a hung relay ends the benchmark, it does not stall it. */
const deadlineMs = Number(process.env.DEADLINE_S ?? 420) * 1000;

/** An ICE candidate as RTCIceCandidate.toJSON() gives it (~200 bytes); usernameFragment carries the send time. */
const candidateLine = 'candidate:842163049 1 udp 1677729535 203.0.113.7 56143 typ srflx raddr 192.168.1.2 rport 56143 generation 0 ufrag sXXm network-cost 999';
const candidate = (t: number) => ({ candidate: candidateLine, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: t.toFixed(3) });

/** One side of a pair: sends a candidate to its peer; `sentAt` of each delivery is reported to the generator. */
interface Endpoint {
  ws: WebSocket;
  peer: Endpoint;
  /** A sentinel carries no send time: it only proves that everything sent before it has arrived. */
  send(sentinel?: boolean): void;
  inflight: number;
  lastDelivery: number;
}

interface Relay {
  name: string;
  /** Server processes whose CPU and RSS are reported. */
  procs: Array<{ name: string; pid: number }>;
  /** `onDelivery`: a message reached `to`; `onRefused`: the relay answered `from`'s message with an error instead. */
  connect(onDelivery: (to: Endpoint, sentAt: number) => void, onRefused: (from: Endpoint, code: string) => void): Promise<Endpoint[]>;
  stop(): Promise<void>;
}

async function openSocket(url: string, onMessage: (data: Buffer) => void): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('error', () => {});
  ws.on('message', (d: Buffer) => onMessage(d));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

async function inBatches<T, R>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

function pairUp(a: Partial<Endpoint>, b: Partial<Endpoint>): void {
  a.peer = b as Endpoint;
  b.peer = a as Endpoint;
}

/**
 * Two ways a lesson's sockets reach the gateways, on one stack: `affinity`, both sides on the
 * gateway the meeting hashes to (the chart's WebSocket ingress hashes ?meeting=), so signals
 * take the gateway's in-memory path; `split`, the sides on different gateways (a lesson whose
 * gateway went away mid-lesson, or an ingress without the hash), so every signal crosses NATS.
 */
async function lessoncall(): Promise<Relay[]> {
  const stack: Stack = await startStack({
    gateways: 2,
    signaling: 2,
    // CPU_PROF=<dir>: each gateway writes V8 CPU profiles to <dir> on exit (for flame graphs).
    ...(process.env.CPU_PROF ? { gatewayNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF}`] } : {}),
  });
  const [gw1, gw2] = stack.gateways as [Stack['gateways'][0], Stack['gateways'][0]];
  const nats = natsPid(stack.h.nats.port);
  const relay = (placement: 'affinity' | 'split', stop: () => Promise<void>): Relay => ({
    name: placement === 'affinity' ? 'lessoncall, each lesson on one gateway (2 gateways + 2 signaling, NATS)' : 'lessoncall, lessons split across 2 gateways',
    procs: [...stack.gateways, ...stack.signaling, ...(nats ? [{ name: 'nats-server', pid: nats }] : [])].map((p) => ({ name: p.name, pid: p.pid })),
    async connect(onDelivery, onRefused) {
      const meetings = await stack.meetings(pairs);
      const started = performance.now();
      const sides = meetings.flatMap((m, i) => {
        const [tutorUrl, studentUrl] = placement === 'split' ? [gw1.wsUrl, gw2.wsUrl] : i % 2 === 0 ? [gw1.wsUrl, gw1.wsUrl] : [gw2.wsUrl, gw2.wsUrl];
        return [
          { m, userId: m.tutorId, url: tutorUrl },
          { m, userId: m.studentId, url: studentUrl },
        ];
      });
      const endpoints = await inBatches(sides, connectConcurrency, async (s) => {
        const e: Partial<Endpoint> & { sessionId?: string } = { inflight: 0, lastDelivery: 0 };
        let welcome: (sessionId: string) => void = () => {};
        let refused: (err: Error) => void = () => {};
        const welcomed = new Promise<string>((resolve, reject) => {
          welcome = resolve;
          refused = reject;
        });
        const ws = await openSocket(`${s.url}?meeting=${s.m.meetingId}`, (data) => {
          const msg = JSON.parse(data.toString());
          if (msg.signal) onDelivery(e as Endpoint, Number(msg.signal.signal.candidate.usernameFragment));
          else if (msg.welcome) welcome(msg.welcome.sessionId);
          else if (msg.error) {
            if (!e.sessionId) refused(new Error(`hello failed: ${JSON.stringify(msg.error)}`));
            // An error (rate_limited, …) comes back to the sender: it answers that message.
            else onRefused(e as Endpoint, String(msg.error.code));
          }
        });
        ws.send(
          JSON.stringify({ hello: { accessToken: await stack.token(s.userId), meetingId: s.m.meetingId, passcode: s.m.passcode, displayName: 'bench' } }),
        );
        e.sessionId = await welcomed;
        e.ws = ws;
        return e;
      });
      for (let i = 0; i < endpoints.length; i += 2) {
        const a = endpoints[i] as Endpoint & { sessionId: string };
        const b = endpoints[i + 1] as Endpoint & { sessionId: string };
        pairUp(a, b);
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          const prefix = `{"signal":{"toSessionId":"${to.sessionId}","signal":{"type":"candidate","candidate":`;
          from.send = (sentinel) => from.ws.send(`${prefix}${JSON.stringify(candidate(sentinel ? Number.NaN : performance.now()))}}}}`);
        }
      }
      console.log(`  lessoncall (${placement}): ${endpoints.length} sessions joined in ${round((performance.now() - started) / 1000, 1)} s`);
      return endpoints as Endpoint[];
    },
    stop,
  });
  // The split relay is started last and stopped last: it owns the stack.
  return [relay('affinity', async () => {}), relay('split', () => stack.stop())];
}

async function peerjs(): Promise<Relay> {
  const port = await freePort();
  const proc: Proc = startProcess('peerjs', 'bench/lib/peerjs-server.ts', { PORT: String(port) });
  await waitListening(port, proc);
  let heartbeat: NodeJS.Timeout | undefined;
  return {
    name: 'PeerJS server (npm peer)',
    procs: [{ name: 'peerjs', pid: proc.pid }],
    async connect(onDelivery) {
      const ids = Array.from({ length: pairs * 2 }, (_, i) => `bench-${i}`);
      const endpoints = await inBatches(ids, connectConcurrency, async (id) => {
        const e: Partial<Endpoint> = { inflight: 0, lastDelivery: 0 };
        let opened: () => void = () => {};
        const open = new Promise<void>((r) => (opened = r));
        e.ws = await openSocket(`ws://127.0.0.1:${port}/peerjs?key=peerjs&id=${id}&token=t${id}`, (data) => {
          const msg = JSON.parse(data.toString());
          if (msg.type === 'CANDIDATE') onDelivery(e as Endpoint, Number(msg.payload.candidate.usernameFragment));
          else if (msg.type === 'OPEN') opened();
        });
        await open;
        return e;
      });
      for (let i = 0; i < endpoints.length; i += 2) {
        const a = endpoints[i] as Endpoint;
        const b = endpoints[i + 1] as Endpoint;
        pairUp(a, b);
        for (const [from, toId] of [
          [a, ids[i + 1]],
          [b, ids[i]],
        ] as const) {
          from.send = (sentinel) =>
            from.ws.send(
              JSON.stringify({
                type: 'CANDIDATE',
                dst: toId,
                payload: { candidate: candidate(sentinel ? Number.NaN : performance.now()), type: 'data', connectionId: 'dc_bench' },
              }),
            );
        }
      }
      // PeerJS clients send a heartbeat every 5 s; so do these.
      heartbeat = setInterval(() => {
        for (const e of endpoints) (e as Endpoint).ws.send('{"type":"HEARTBEAT"}');
      }, 5_000);
      return endpoints as Endpoint[];
    },
    async stop() {
      clearInterval(heartbeat);
      await proc.stop();
    },
  };
}

async function bare(): Promise<Relay> {
  const port = await freePort();
  const proc = startProcess('bare-relay', 'bench/lib/bare-relay.ts', { PORT: String(port) });
  await waitListening(port, proc);
  return {
    name: 'bare ws relay (floor)',
    procs: [{ name: 'bare-relay', pid: proc.pid }],
    async connect(onDelivery) {
      const ids = Array.from({ length: pairs * 2 }, (_, i) => `b${i}`);
      const endpoints = await inBatches(ids, connectConcurrency, async (id) => {
        const e: Partial<Endpoint> = { inflight: 0, lastDelivery: 0 };
        e.ws = await openSocket(`ws://127.0.0.1:${port}/?id=${id}`, (data) => {
          const msg = JSON.parse(data.toString());
          onDelivery(e as Endpoint, Number(msg.signal.candidate.usernameFragment));
        });
        return e;
      });
      for (let i = 0; i < endpoints.length; i += 2) {
        const a = endpoints[i] as Endpoint;
        const b = endpoints[i + 1] as Endpoint;
        pairUp(a, b);
        for (const [from, toId] of [
          [a, ids[i + 1]],
          [b, ids[i]],
        ] as const) {
          from.send = (sentinel) =>
            from.ws.send(JSON.stringify({ to: toId, signal: { type: 'candidate', candidate: candidate(sentinel ? Number.NaN : performance.now()) } }));
        }
      }
      return endpoints as Endpoint[];
    },
    stop: () => proc.stop(),
  };
}

interface Phase {
  sent: number;
  latencies: number[];
  delivered: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** Sockets the relay closed during the phase, by close code. */
  closed: Record<string, number>;
  sentinels: number;
}

const newPhase = (): Phase => ({ sent: 0, latencies: [], delivered: 0, errors: 0, errorCodes: {}, closed: {}, sentinels: 0 });

/** A relay with its sockets connected, and what the generator is currently recording for it. */
interface Running {
  relay: Relay;
  endpoints: Endpoint[];
  phase: Phase;
  closedLoop: boolean;
}

async function prepare(relay: Relay): Promise<Running> {
  const running: Running = { relay, endpoints: [], phase: newPhase(), closedLoop: false };
  const answered = (from: Endpoint) => {
    if (!running.closedLoop) return;
    from.inflight -= 1;
    from.lastDelivery = performance.now();
    if (from.inflight < windowPerSide) {
      from.inflight += 1;
      running.phase.sent++;
      from.send();
    }
  };
  running.endpoints = await relay.connect(
    (to, sentAt) => {
      const phase = running.phase;
      if (Number.isNaN(sentAt)) {
        phase.sentinels++;
        return;
      }
      phase.delivered++;
      phase.latencies.push(performance.now() - sentAt);
      answered(to.peer);
    },
    (from, code) => {
      running.phase.errors++;
      count(running.phase.errorCodes, code);
      answered(from);
    },
  );
  for (const e of running.endpoints) e.ws.on('close', (code: number) => count(running.phase.closed, String(code)));
  return running;
}

/**
 * Every side sends a sentinel and this waits for all of them: each relay keeps one sender's
 * messages in order, so once a side's sentinel arrived, nothing it sent before is on the way.
 * What has not arrived by then is lost, not late.
 */
async function drain(r: Running, timeoutMs = 10_000) {
  const phase = r.phase;
  for (const e of r.endpoints) e.send(true);
  const deadline = performance.now() + timeoutMs;
  while (phase.sentinels < r.endpoints.length && performance.now() < deadline) await sleep(5);
  return {
    sent: phase.sent,
    delivered: phase.delivered,
    errors: phase.errors,
    errorCodes: phase.errorCodes,
    closed: phase.closed,
    lost: phase.sent - phase.delivered - phase.errors,
    sentinelsMissing: r.endpoints.length - phase.sentinels,
  };
}

/** Open loop: the schedule decides when to send, never the replies. */
async function openLoop(r: Running, seconds: number) {
  const endpoints = r.endpoints;
  const phase = newPhase();
  r.phase = phase;
  const meter = cpuMeter(r.relay.procs);
  const idle = idleMeter();
  const perSecond = endpoints.length * ratePerSide;
  const total = Math.round(seconds * perSecond);
  let maxBehind = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(Math.floor(((performance.now() - t0) / 1000) * perSecond), total);
      maxBehind = Math.max(maxBehind, due - phase.sent);
      while (phase.sent < due) {
        (endpoints[phase.sent % endpoints.length] as Endpoint).send();
        phase.sent++;
      }
      if (phase.sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const sendSeconds = (performance.now() - t0) / 1000;
  const cpu = meter();
  const { idleShare } = idle();
  return {
    ...(await drain(r)),
    sendSeconds: round(sendSeconds, 2),
    generatorMaxBehind: maxBehind,
    latencyMs: summarize(phase.latencies),
    cpu,
    idleShare,
  };
}

/** Saturation: closed loop, WINDOW in flight per side; the first second is not timed, but every message is accounted for. */
async function saturation(r: Running, seconds: number) {
  const endpoints = r.endpoints;
  const phase = newPhase();
  r.phase = phase;
  r.closedLoop = true;
  const start = () => {
    for (const e of endpoints) {
      e.inflight = windowPerSide;
      e.lastDelivery = performance.now();
      for (let i = 0; i < windowPerSide; i++) {
        phase.sent++;
        e.send();
      }
    }
  };
  start();
  // A message the relay dropped would stall its sender for good: refill a sender idle for 2 s,
  // and count it — a refill is a loss seen from the sender.
  let refills = 0;
  const refill = setInterval(() => {
    const now = performance.now();
    for (const e of endpoints) {
      if (now - e.lastDelivery > 2_000) {
        refills++;
        e.lastDelivery = now;
        e.inflight = windowPerSide;
        for (let i = 0; i < windowPerSide; i++) {
          phase.sent++;
          e.send();
        }
      }
    }
  }, 500);
  await sleep(1_000);
  const from = { delivered: phase.delivered, errors: phase.errors, latencies: phase.latencies.length };
  const meter = cpuMeter(r.relay.procs);
  const idle = idleMeter();
  const t0 = performance.now();
  await sleep(seconds * 1_000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = meter();
  const { idleShare } = idle();
  const window = { delivered: phase.delivered - from.delivered, errors: phase.errors - from.errors, latencies: phase.latencies.slice(from.latencies) };
  r.closedLoop = false;
  clearInterval(refill);
  const accounted = await drain(r);
  return {
    window: windowPerSide,
    seconds: round(elapsed, 2),
    deliveredPerSecond: Math.round(window.delivered / elapsed),
    errorsPerSecond: Math.round(window.errors / elapsed),
    latencyMs: summarize(window.latencies),
    ...accounted,
    stalledSenderRefills: refills,
    cpu,
    idleShare,
  };
}

type OpenRound = Round<Awaited<ReturnType<typeof openLoop>>>;
type SatRound = Round<Awaited<ReturnType<typeof saturation>>>;

async function main() {
  /** Every relay started, stopped at the end whatever happens (its servers are processes). */
  const run = bounded('signaling-relay', deadlineMs);
  const started = Date.now();
  const relays: Running[] = [];
  try {
    for (const start of [lessoncall, peerjs, bare]) {
      const started = await start();
      for (const relay of Array.isArray(started) ? started : [started]) relays.push(await prepare(run.keep(relay)));
    }
    for (const r of relays) console.log(`${r.relay.name}: ${r.endpoints.length} sockets connected`);

    // Rounds interleave the relays, so that a burst of other work on a shared machine does not
    // land on one relay's whole measurement.
    const windows = new Map<Running, OpenRound[]>(relays.map((r) => [r, []]));
    for (let n = 1; n <= rounds; n++) {
      for (const r of relays) {
        await openLoop(r, warmupS);
        const w: OpenRound = { ...(await openLoop(r, measureS / rounds)), round: n };
        windows.get(r)?.push(w);
        console.log(
          `  round ${n}/${rounds} ${r.relay.name}: ${w.delivered}/${w.sent} delivered, lost ${w.lost}, p50 ${w.latencyMs.p50} ms, p99 ${w.latencyMs.p99} ms ` +
            `(cores: servers ${w.cpu.serverCores}, generator ${w.cpu.generatorCores}, other ${w.cpu.otherCores}; machine idle ${Math.round(w.idleShare * 100)}%)`,
        );
      }
    }
    const saturations = new Map<Running, SatRound[]>(relays.map((r) => [r, []]));
    for (let n = 1; n <= saturationRounds; n++) {
      for (const r of relays) {
        const sat: SatRound = { ...(await saturation(r, saturationS)), round: n };
        saturations.get(r)?.push(sat);
        console.log(
          `  saturation ${n}/${saturationRounds} ${r.relay.name}: ${sat.deliveredPerSecond} msg/s, lost ${sat.lost}, refused ${JSON.stringify(sat.errorCodes)}, closed ${JSON.stringify(sat.closed)}, refills ${sat.stalledSenderRefills}, p50 ${sat.latencyMs.p50} ms, p99 ${sat.latencyMs.p99} ms ` +
            `(cores: servers ${sat.cpu.serverCores}, other ${sat.cpu.otherCores}; machine idle ${Math.round(sat.idleShare * 100)}%)`,
        );
      }
    }
    const rssAtEnd = new Map(relays.map((r) => [r, Object.fromEntries(r.relay.procs.map((p) => [`${p.name}#${p.pid}`, rssKb(p.pid)]))]));

    const report = (r: Running) => {
      const ws = windows.get(r) ?? [];
      const sats = saturations.get(r) ?? [];
      const open = medianOfRounds(ws, { p50Ms: (w) => w.latencyMs.p50, p90Ms: (w) => w.latencyMs.p90, p99Ms: (w) => w.latencyMs.p99, lost: (w) => w.lost });
      const sat = medianOfRounds(sats, { deliveredPerSecond: (s) => s.deliveredPerSecond, p99Ms: (s) => s.latencyMs.p99, lost: (s) => s.lost });
      return {
        relay: r.relay.name,
        openLoop: {
          offeredPerSecond: r.endpoints.length * ratePerSide,
          /** The headline: the median over the rounds of each figure. */
          median: open.median,
          range: open.range,
          idleShare: open.idleShare,
          lostTotal: ws.reduce((a, w) => a + w.lost + w.sentinelsMissing, 0),
          rounds: ws,
        },
        saturation: {
          median: sat.median,
          range: sat.range,
          idleShare: sat.idleShare,
          lostTotal: sats.reduce((a, s) => a + s.lost + s.sentinelsMissing, 0),
          rounds: sats,
        },
        serverRssKb: rssAtEnd.get(r),
      };
    };
    const [ours, split, peer, floor] = relays.map(report);
    for (const r of [ours, split, peer, floor]) {
      if (!r) continue;
      console.log(
        `${r.relay}, median of rounds: open loop ${r.openLoop.offeredPerSecond}/s p50 ${r.openLoop.median.p50Ms} ms, p99 ${r.openLoop.median.p99Ms} ms, lost ${r.openLoop.lostTotal}; ` +
          `saturation ${r.saturation.median.deliveredPerSecond} msg/s, lost ${r.saturation.lostTotal}`,
      );
    }
    const ratios = {
      p50: ratio(ours?.openLoop.median.p50Ms, peer?.openLoop.median.p50Ms),
      p99: ratio(ours?.openLoop.median.p99Ms, peer?.openLoop.median.p99Ms),
      saturation: ratio(ours?.saturation.median.deliveredPerSecond, peer?.saturation.median.deliveredPerSecond),
    };
    const splitRatios = {
      p50: ratio(split?.openLoop.median.p50Ms, peer?.openLoop.median.p50Ms),
      p99: ratio(split?.openLoop.median.p99Ms, peer?.openLoop.median.p99Ms),
      saturation: ratio(split?.saturation.median.deliveredPerSecond, peer?.saturation.median.deliveredPerSecond),
    };
    console.log(`lessoncall ÷ PeerJS (same run): p50 ×${ratios.p50}, p99 ×${ratios.p99}, saturation ×${ratios.saturation}`);
    console.log(
      `lessoncall split across gateways ÷ PeerJS (same run): p50 ×${splitRatios.p50}, p99 ×${splitRatios.p99}, saturation ×${splitRatios.saturation}`,
    );
    const result = {
      benchmark: 'signaling-relay',
      what: 'one-way client → client latency of candidate-sized signalling messages, open loop, and saturation throughput (closed loop); every message accounted for',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map((x) => round(x)) },
      setup: {
        pairs,
        socketsPerRelay: pairs * 2,
        ratePerSidePerSecond: ratePerSide,
        rounds,
        warmupSecondsPerWindow: warmupS,
        measureSecondsTotal: measureS,
        saturationRounds,
        saturationSeconds: saturationS,
        saturationWindowPerSide: windowPerSide,
        messageBytes: JSON.stringify({ type: 'candidate', candidate: candidate(123456.789) }).length,
        loadGenerator: 'this process (every client socket of every relay, one event loop); loopback only; every server in its own process',
        lessoncall:
          'gateway ×2 and signaling ×2 processes (main.ts, default config), meeting + participant processes, harness NATS + Postgres; "lessoncall": each lesson on the gateway its meeting hashes to (as the chart\'s WebSocket ingress routes ?meeting=), half the lessons on each; "lessoncallSplit": the same stack with each lesson\'s two sides on different gateways',
        headline: 'the median over the rounds of each figure (never the best round); ratios are to PeerJS measured in the same run',
        lost: 'after every window each side sends a sentinel; once all arrived nothing is on the way: lost = sent − delivered − refused',
        noise: '"idleShare" is the machine\'s idle CPU during each round (/proc/stat, all cores), "cpu.otherCores" what everything else used',
      },
      target: { lost: 0, p50: '≤ 3 × PeerJS p50', p99: '≤ PeerJS p99', saturation: '≥ 0.8 × PeerJS' },
      ratioToPeerjs: ratios,
      splitRatioToPeerjs: splitRatios,
      verdict:
        ours && peer
          ? {
              noneLost: [ours, split].every((r) => r && r.openLoop.lostTotal === 0 && r.saturation.lostTotal === 0),
              p50WithinThreeTimesPeerJs: (ratios.p50 ?? Number.POSITIVE_INFINITY) <= 3,
              p99NoWorseThanPeerJs: (ratios.p99 ?? Number.POSITIVE_INFINITY) <= 1,
              saturationAtLeast80PercentOfPeerJs: (ratios.saturation ?? 0) >= 0.8,
            }
          : undefined,
      results: { lessoncall: ours, lessoncallSplit: split, peerjs: peer, bareWs: floor },
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    await writeResult('signaling-relay.json', result);
    console.log(`wrote bench/results/signaling-relay.json in ${result.wallSeconds} s`);
  } finally {
    for (const r of relays) for (const e of r.endpoints) e.ws.terminate();
    await run.stopAll();
  }
}

runBenchmark(main);
