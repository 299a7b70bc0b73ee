/**
 * Signaling relay: client → client one-way latency and throughput of candidate-sized messages.
 *
 *   pnpm exec tsx bench/signaling-relay.ts       (PAIRS=1000 RATE=5 MEASURE_S=15 SATURATION_S=8 WINDOW=4)
 *
 * Three relays carry the same traffic from the same load generator (this process, 2·PAIRS
 * WebSockets), one after another:
 *   - lessoncall: client → gateway → NATS (signal.route) → signaling → NATS (signal.deliver) →
 *     gateway → client, with 2 gateway and 2 signaling processes; the two sides of every pair
 *     are on different gateways. Meeting and participant services run too (every session is a
 *     real join; signaling authorises every message against its roster).
 *   - peerjs: a PeerJS server (npm `peer`, `PeerServer`) in its own process, driven with its own
 *     websocket protocol ({type: 'CANDIDATE', dst, payload}), as PeerJS clients speak it.
 *   - bare-ws: a bare `ws` relay in its own process (bench/lib/bare-relay.ts): the floor.
 *
 * Open loop: every side sends RATE messages/s on a fixed schedule, whatever comes back; latency
 * is receive time − send time (one clock: both ends are in this process). The measuring time is
 * split into ROUNDS windows that take turns between the relays (all three stay connected), so a
 * burst of other work on a shared machine does not fall on one relay only; each window records
 * the CPU the relay, the generator and everything else used. Then saturation: closed loop, each
 * side keeps WINDOW messages in flight, for the delivered messages/s.
 * Loopback only. Writes bench/results/signaling-relay.json.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join as joinPath } from 'node:path';
import { freePort, repoRoot } from '@lessoncall/kit/testing';
import { WebSocket } from 'ws';
import { cpuSeconds, natsPid, type Proc, rssKb, startProcess, waitListening } from './lib/processes';
import { type Stack, startStack } from './lib/stack';
import { round, sleep, summarize } from './lib/stats';

const pairs = Number(process.env.PAIRS ?? 1_000);
const ratePerSide = Number(process.env.RATE ?? 5);
const warmupS = Number(process.env.WARMUP_S ?? 1);
/** Total open-loop measuring time per relay, split over ROUNDS windows interleaved with the other relays. */
const measureS = Number(process.env.MEASURE_S ?? 15);
const rounds = Number(process.env.ROUNDS ?? 5);
const saturationS = Number(process.env.SATURATION_S ?? 6);
const windowPerSide = Number(process.env.WINDOW ?? 4);
const connectConcurrency = 64;
/** The whole run is bounded: a hung relay ends the benchmark, it does not stall it. */
const deadlineMs = Number(process.env.DEADLINE_S ?? 240) * 1000;

/** An ICE candidate as RTCIceCandidate.toJSON() gives it (~200 bytes); usernameFragment carries the send time. */
const candidateLine = 'candidate:842163049 1 udp 1677729535 203.0.113.7 56143 typ srflx raddr 192.168.1.2 rport 56143 generation 0 ufrag sXXm network-cost 999';
const candidate = (t: number) => ({ candidate: candidateLine, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: t.toFixed(3) });

/** One side of a pair: sends a candidate to its peer; `sentAt` of each delivery is reported to the generator. */
interface Endpoint {
  ws: WebSocket;
  peer: Endpoint;
  send(): void;
  inflight: number;
  lastDelivery: number;
}

interface Relay {
  name: string;
  /** Server processes whose CPU and RSS are reported. */
  procs: Array<{ name: string; pid: number }>;
  /** `onDelivery`: a message reached `to`; `onRefused`: the relay answered `from`'s message with an error instead. */
  connect(onDelivery: (to: Endpoint, sentAt: number) => void, onRefused: (from: Endpoint) => void): Promise<Endpoint[]>;
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

async function lessoncall(): Promise<Relay> {
  const stack: Stack = await startStack({ gateways: 2, signaling: 2 });
  const [gw1, gw2] = stack.gateways as [Stack['gateways'][0], Stack['gateways'][0]];
  const nats = natsPid(stack.h.nats.port);
  return {
    name: 'lessoncall (2 gateways + 2 signaling, NATS)',
    procs: [...stack.gateways, ...stack.signaling, ...(nats ? [{ name: 'nats-server', pid: nats }] : [])].map((p) => ({ name: p.name, pid: p.pid })),
    async connect(onDelivery, onRefused) {
      const meetings = await stack.meetings(pairs);
      const started = performance.now();
      const sides = meetings.flatMap((m) => [
        { m, userId: m.tutorId, url: gw1.wsUrl },
        { m, userId: m.studentId, url: gw2.wsUrl },
      ]);
      const endpoints = await inBatches(sides, connectConcurrency, async (s) => {
        const e: Partial<Endpoint> & { sessionId?: string } = { inflight: 0, lastDelivery: 0 };
        let welcome: (sessionId: string) => void = () => {};
        let refused: (err: Error) => void = () => {};
        const welcomed = new Promise<string>((resolve, reject) => {
          welcome = resolve;
          refused = reject;
        });
        const ws = await openSocket(s.url, (data) => {
          const msg = JSON.parse(data.toString());
          if (msg.signal) onDelivery(e as Endpoint, Number(msg.signal.signal.candidate.usernameFragment));
          else if (msg.welcome) welcome(msg.welcome.sessionId);
          else if (msg.error) {
            if (!e.sessionId) refused(new Error(`hello failed: ${JSON.stringify(msg.error)}`));
            // An error (rate_limited, …) comes back to the sender: it answers that message.
            else onRefused(e as Endpoint);
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
          from.send = () => from.ws.send(`${prefix}${JSON.stringify(candidate(performance.now()))}}}}`);
        }
      }
      console.log(`  lessoncall: ${endpoints.length} sessions joined in ${round((performance.now() - started) / 1000, 1)} s`);
      return endpoints as Endpoint[];
    },
    stop: () => stack.stop(),
  };
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
          from.send = () =>
            from.ws.send(
              JSON.stringify({ type: 'CANDIDATE', dst: toId, payload: { candidate: candidate(performance.now()), type: 'data', connectionId: 'dc_bench' } }),
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
          from.send = () => from.ws.send(JSON.stringify({ to: toId, signal: { type: 'candidate', candidate: candidate(performance.now()) } }));
        }
      }
      return endpoints as Endpoint[];
    },
    stop: () => proc.stop(),
  };
}

interface Phase {
  latencies: number[];
  delivered: number;
  errors: number;
}

/** A relay with its sockets connected, and what the generator is currently recording for it. */
interface Running {
  relay: Relay;
  endpoints: Endpoint[];
  phase: Phase | undefined;
  closedLoop: boolean;
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (total - idle) / 100;
}

const generatorCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * CPU used during a window: by the relay's own server processes, by this load generator, and by
 * everything else on the machine (other work on a shared host: the noise to read the figures by).
 */
function cpuMeter(procs: Relay['procs']) {
  const at = () => ({ t: performance.now(), machine: machineBusySeconds(), perProc: procs.map((p) => cpuSeconds(p.pid)), generator: generatorCpuSeconds() });
  const start = at();
  return () => {
    const end = at();
    const seconds = (end.t - start.t) / 1000;
    const perProc = end.perProc.map((c, i) => c - (start.perProc[i] ?? 0));
    const relay = perProc.reduce((a, b) => a + b, 0);
    const generator = end.generator - start.generator;
    const other = Math.max(0, end.machine - start.machine - relay - generator);
    return {
      relayCores: round(relay / seconds),
      generatorCores: round(generator / seconds),
      otherCores: round(other / seconds),
      perProcess: Object.fromEntries(procs.map((p, i) => [`${p.name}#${p.pid}`, round((perProc[i] ?? 0) / seconds)])),
    };
  };
}

async function prepare(relay: Relay): Promise<Running> {
  const running: Running = { relay, endpoints: [], phase: undefined, closedLoop: false };
  const answered = (from: Endpoint) => {
    if (!running.closedLoop) return;
    from.inflight -= 1;
    from.lastDelivery = performance.now();
    if (from.inflight < windowPerSide) {
      from.inflight += 1;
      from.send();
    }
  };
  running.endpoints = await relay.connect(
    (to, sentAt) => {
      const phase = running.phase;
      if (phase) {
        phase.delivered++;
        phase.latencies.push(performance.now() - sentAt);
      }
      answered(to.peer);
    },
    (from) => {
      if (running.phase) running.phase.errors++;
      answered(from);
    },
  );
  return running;
}

/** Open loop: the schedule decides when to send, never the replies. */
async function openLoop(r: Running, seconds: number, record: boolean) {
  const endpoints = r.endpoints;
  const phase: Phase = { latencies: [], delivered: 0, errors: 0 };
  r.phase = record ? phase : undefined;
  const meter = cpuMeter(r.relay.procs);
  const perSecond = endpoints.length * ratePerSide;
  const total = Math.round(seconds * perSecond);
  let sent = 0;
  let maxBehind = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(Math.floor(((performance.now() - t0) / 1000) * perSecond), total);
      maxBehind = Math.max(maxBehind, due - sent);
      while (sent < due) {
        (endpoints[sent % endpoints.length] as Endpoint).send();
        sent++;
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const sendSeconds = (performance.now() - t0) / 1000;
  const cpu = meter();
  await sleep(1_000);
  r.phase = undefined;
  return { sent, sendSeconds, maxBehind, phase, cpu };
}

/** Saturation: closed loop, WINDOW in flight per side; the first second is not counted. */
async function saturation(r: Running, seconds: number) {
  const endpoints = r.endpoints;
  r.closedLoop = true;
  for (const e of endpoints) {
    e.inflight = windowPerSide;
    e.lastDelivery = performance.now();
    for (let i = 0; i < windowPerSide; i++) e.send();
  }
  // A message the relay dropped would stall its sender for good: refill a sender idle for 2 s.
  const refill = setInterval(() => {
    const now = performance.now();
    for (const e of endpoints) {
      if (now - e.lastDelivery > 2_000) {
        e.lastDelivery = now;
        e.inflight = windowPerSide;
        for (let i = 0; i < windowPerSide; i++) e.send();
      }
    }
  }, 500);
  await sleep(1_000);
  const phase: Phase = { latencies: [], delivered: 0, errors: 0 };
  r.phase = phase;
  const meter = cpuMeter(r.relay.procs);
  const t0 = performance.now();
  await sleep(seconds * 1_000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = meter();
  r.phase = undefined;
  r.closedLoop = false;
  clearInterval(refill);
  await sleep(1_000);
  return {
    window: windowPerSide,
    seconds: round(elapsed, 2),
    deliveredPerSecond: Math.round(phase.delivered / elapsed),
    errorsPerSecond: Math.round(phase.errors / elapsed),
    latencyMs: summarize(phase.latencies),
    cpu,
  };
}

async function main() {
  /** Every relay started, stopped at the end whatever happens (its servers are processes). */
  const up: Relay[] = [];
  const stopAll = async () => {
    for (const relay of up.splice(0).reverse()) await relay.stop().catch(() => {});
  };
  const watchdog = setTimeout(() => {
    console.error(`signaling-relay: over the ${deadlineMs / 1000} s bound, giving up`);
    void Promise.race([stopAll(), sleep(15_000)]).finally(() => process.exit(2));
  }, deadlineMs);
  watchdog.unref();
  const started = Date.now();
  const relays: Running[] = [];
  try {
    for (const start of [lessoncall, peerjs, bare]) {
      const relay = await start();
      up.push(relay);
      relays.push(await prepare(relay));
    }
    for (const r of relays) console.log(`${r.relay.name}: ${r.endpoints.length} sockets connected`);

    // Rounds interleave the relays, so that a burst of other work on a shared machine does not
    // land on one relay's whole measurement.
    const windows = new Map<Running, Array<Awaited<ReturnType<typeof openLoop>>>>();
    for (let round_ = 1; round_ <= rounds; round_++) {
      for (const r of relays) {
        await openLoop(r, warmupS, false);
        const w = await openLoop(r, measureS / rounds, true);
        windows.set(r, [...(windows.get(r) ?? []), w]);
        const l = summarize(w.phase.latencies);
        console.log(
          `  round ${round_} ${r.relay.name}: ${w.phase.delivered}/${w.sent} delivered, p50 ${l.p50} ms, p99 ${l.p99} ms (cores: relay ${w.cpu.relayCores}, generator ${w.cpu.generatorCores}, other ${w.cpu.otherCores})`,
        );
      }
    }
    const saturations = new Map<Running, Awaited<ReturnType<typeof saturation>>>();
    for (const r of relays) {
      const sat = await saturation(r, saturationS);
      saturations.set(r, sat);
      console.log(
        `  saturation ${r.relay.name}: ${sat.deliveredPerSecond} msg/s, p50 ${sat.latencyMs.p50} ms, p99 ${sat.latencyMs.p99} ms (cores: relay ${sat.cpu.relayCores}, other ${sat.cpu.otherCores})`,
      );
    }
    const rssAtEnd = new Map(relays.map((r) => [r, Object.fromEntries(r.relay.procs.map((p) => [`${p.name}#${p.pid}`, rssKb(p.pid)]))]));

    const report = (r: Running) => {
      const ws = windows.get(r) ?? [];
      const sent = ws.reduce((a, w) => a + w.sent, 0);
      const delivered = ws.reduce((a, w) => a + w.phase.delivered, 0);
      const errors = ws.reduce((a, w) => a + w.phase.errors, 0);
      const seconds = ws.reduce((a, w) => a + w.sendSeconds, 0);
      return {
        relay: r.relay.name,
        openLoop: {
          offeredPerSecond: r.endpoints.length * ratePerSide,
          seconds: round(seconds),
          sent,
          delivered,
          errors,
          lost: sent - delivered - errors,
          deliveredPerSecond: Math.round(delivered / seconds),
          latencyMs: summarize(ws.flatMap((w) => w.phase.latencies)),
          rounds: ws.map((w) => ({ ...summarize(w.phase.latencies), generatorMaxBehind: w.maxBehind, cores: w.cpu })),
          /** The window in which the rest of the machine was the least busy: the figures with the least noise. */
          quietestRound: (() => {
            const q = [...ws].sort((a, b) => a.cpu.otherCores - b.cpu.otherCores)[0];
            return q ? { ...summarize(q.phase.latencies), cores: q.cpu } : undefined;
          })(),
        },
        saturation: saturations.get(r),
        serverRssKb: rssAtEnd.get(r),
      };
    };
    const [ours, peer, floor] = relays.map(report);
    for (const r of [ours, peer, floor]) {
      if (!r) continue;
      const o = r.openLoop;
      console.log(
        `${r.relay}: open loop ${o.offeredPerSecond}/s delivered ${o.delivered}/${o.sent}, p50 ${o.latencyMs.p50} ms, p99 ${o.latencyMs.p99} ms; saturation ${r.saturation?.deliveredPerSecond} msg/s`,
      );
    }
    const result = {
      benchmark: 'signaling-relay',
      what: 'one-way client → client latency of candidate-sized signalling messages, open loop, and saturation throughput (closed loop)',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map((x) => round(x)) },
      setup: {
        pairs,
        socketsPerRelay: pairs * 2,
        ratePerSidePerSecond: ratePerSide,
        rounds,
        warmupSecondsPerWindow: warmupS,
        measureSecondsTotal: measureS,
        saturationSeconds: saturationS,
        saturationWindowPerSide: windowPerSide,
        messageBytes: JSON.stringify({ type: 'candidate', candidate: candidate(123456.789) }).length,
        loadGenerator: 'this process (every client socket of every relay, one event loop); loopback only; every server in its own process',
        lessoncall:
          'gateway ×2 and signaling ×2 processes (main.ts, default config), meeting + participant processes, harness NATS + Postgres; each pair split across the two gateways',
        noise: '"cores.other" is CPU used by everything else on the machine during a window (a shared host): read latencies together with it',
      },
      target: { p50Ms: 2, p99: 'no worse than PeerJS in the same run' },
      verdict:
        ours && peer
          ? {
              allWindows: { p50Met: ours.openLoop.latencyMs.p50 <= 2, p99NoWorseThanPeerJs: ours.openLoop.latencyMs.p99 <= peer.openLoop.latencyMs.p99 },
              quietestWindows: {
                p50Met: (ours.openLoop.quietestRound?.p50 ?? Number.POSITIVE_INFINITY) <= 2,
                p99NoWorseThanPeerJs: (ours.openLoop.quietestRound?.p99 ?? Number.POSITIVE_INFINITY) <= (peer.openLoop.quietestRound?.p99 ?? 0),
              },
            }
          : undefined,
      results: { lessoncall: ours, peerjs: peer, bareWs: floor },
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    const dir = joinPath(repoRoot, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(joinPath(dir, 'signaling-relay.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote bench/results/signaling-relay.json in ${result.wallSeconds} s`);
  } finally {
    for (const r of relays) for (const e of r.endpoints) e.ws.terminate();
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
