/**
 * Lesson start: the hour strikes, and LESSONS lessons begin at once.
 *
 *   pnpm exec tsx bench/lesson-start.ts       (LESSONS=500 SPREAD_S=10 ROUNDS=3 SETTLE_S=20 ATTEMPTS=3 SEED=1 SPLIT=0)
 *
 * A lesson's two sides use the gateway its meeting hashes to, as the chart's WebSocket ingress
 * routes them; SPLIT=1 puts them on different gateways, so that every signal crosses NATS.
 *
 * Every participant (2 per lesson) arrives at a random moment within SPREAD_S seconds, does the
 * REST join (POST /api/video/meetings/:id/join), opens the WebSocket and says hello resuming the
 * session the REST join created, then the pair negotiates as two browsers do: an offer and an
 * answer of real SDP size, 10–20 ICE candidates from each side right after its description, then
 * heartbeats (a ping every 4 s, as the web client does) until the round ends. A lesson is
 * negotiated when both sides hold the other's description and every one of its candidates; its
 * time runs from the later participant's arrival (the click on Join that completes the pair)
 * to that moment. A join or hello answered `unavailable` is tried again after a second, up to
 * ATTEMPTS times, as the web client does; every refusal is counted by its code.
 *
 * Who offers: the side that becomes ready second (welcome, or PeerJS's OPEN) — the newcomer
 * offers to a peer that is already listening, as the web client does when its welcome lists a
 * connected peer. The generator sees both sides, so neither relay is given signals for a socket
 * that does not exist yet, and glare never happens: what is measured is the relay, not a race.
 *
 * The anchor, in the same run: a PeerJS server (npm `peer`) in its own process, driven with the
 * same pattern in its own protocol (GET /peerjs/id for the id, the socket, OFFER / ANSWER /
 * CANDIDATE, HEARTBEAT every 5 s as PeerJS clients send). Rounds alternate between the two.
 *
 * Lost signals are proven, not guessed: when a round ends every side sends a sentinel candidate
 * to its peer; the relays keep one sender's messages in order, so once a sentinel arrived,
 * nothing sent before it is still on the way. Lost = sent − delivered − refused with an error.
 * Loopback only. Writes bench/results/lesson-start.json.
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { freePort } from '@lessoncall/kit/testing';
import { WebSocket } from 'ws';
import { bounded, runBenchmark } from './lib/lifecycle';
import { cpuMeter, type Measured, natsPid, type Proc, postgresCpuSeconds, rssKb, startProcess, waitListening } from './lib/processes';
import { idleMeter, medianOfRounds, type Round, ratio } from './lib/rounds';
import { seededRandom } from '@lessoncall/kit/testing';
import { offerSdp, answerSdp, iceCandidate } from './lib/sdp';
import { type Stack, startStack } from './lib/stack';
import { count, round, sleep, summarize } from './lib/stats';
import { writeResult } from './lib/results';

const lessons = Number(process.env.LESSONS ?? 500);
const spreadS = Number(process.env.SPREAD_S ?? 10);
const rounds = Number(process.env.ROUNDS ?? 3);
/** How long after the last arrival a lesson may still finish negotiating before it counts as failed. */
const settleS = Number(process.env.SETTLE_S ?? 20);
const seed = Number(process.env.SEED ?? 1);
const heartbeatMs = { lessoncall: 4_000, peerjs: 5_000 };
const candidatesPerSide: [number, number] = [10, 20];
const deadlineMs = Number(process.env.DEADLINE_S ?? 600) * 1000;
/** Tries of one participant's join + hello when the answer is `unavailable` (the gateway's retryAfterSeconds is 1). */
const attempts = Number(process.env.ATTEMPTS ?? 3);
const retryAfterMs = 1_000;

type SignalKind = 'offer' | 'answer' | 'candidate' | 'sentinel';

/** One participant's connection to a relay, once it can send and receive signals. */
interface Conn {
  /** What the peer addresses signals to: a session id, a PeerJS id. */
  address: string;
  send(to: string, kind: SignalKind, index: number): void;
  ping(): void;
  close(): void;
}

interface Events {
  /** A signal from the peer arrived: `index` is the candidate's number in its sender's sequence. */
  signal(kind: SignalKind, index: number): void;
  /** The relay answered with an error (a refused signal, a failed hello, …). */
  error(code: string, whileSignalling: boolean): void;
  pong(): void;
}

interface Participant {
  lesson: Lesson;
  role: 'tutor' | 'student';
  arriveAtMs: number;
  candidates: number;
  conn?: Conn;
  arrivedAt?: number;
  joinedAt?: number;
  readyAt?: number;
  /** Has the peer's description (its offer, or the answer to ours). */
  hasDescription: boolean;
  candidatesReceived: number;
  doneAt?: number;
  sentinelArrived: boolean;
  failed?: string;
}

interface Lesson {
  index: number;
  meetingId: string;
  passcode: string;
  tutorId: string;
  studentId: string;
  sides: [Participant, Participant];
  offerer?: Participant;
  offerAt?: number;
}

interface Relay {
  name: string;
  procs: Measured[];
  /** Lessons open now on this relay (meetings in the database, or nothing to prepare for PeerJS). */
  lessons(n: number): Promise<Array<Omit<Lesson, 'sides' | 'index'>>>;
  /** Joins (REST), connects and greets one participant; stamps `joinedAt` after the join step. */
  connect(p: Participant, events: Events): Promise<Conn>;
  /** Server processes that have exited, with the last of their output: a round with one is not a measurement of the relay. */
  exited(): Array<{ name: string; code: number | null; signal: string | null; output: string }>;
  /** The last warnings and errors each server process logged (kept with a round that had errors). */
  logTail(): Record<string, string>;
  stop(): Promise<void>;
}

const exitedOf = (procs: Proc[]) =>
  procs
    .filter((p) => p.child.exitCode !== null || p.child.signalCode !== null)
    .map((p) => ({ name: p.name, code: p.child.exitCode, signal: p.child.signalCode, output: p.output().slice(-2_000) }));

function openSocket(url: string, onMessage: (data: Buffer) => void, onClose: () => void): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 15_000 });
  ws.on('error', () => {});
  ws.on('message', (d: Buffer) => onMessage(d));
  ws.on('close', onClose);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The candidate body: the index travels in usernameFragment, where a real candidate carries its ufrag. */
const candidateOf = (index: number) => iceCandidate(index, index < 0 ? 'sentinel' : `c${index}`);
const indexOf = (ufrag: string | undefined) => (ufrag === 'sentinel' ? -1 : Number(ufrag?.slice(1)));

async function lessoncall(): Promise<Relay> {
  const stack: Stack = await startStack({
    gateways: 2,
    signaling: 2,
    turn: true,
    // Every client here comes from 127.0.0.1: the per-client REST limit would refuse them as one.
    gatewayEnv: { REST_RATE_PER_MINUTE: '100000000', REST_USER_RATE_PER_MINUTE: '100000000' },
    // CPU_PROF=<dir>: every process writes V8 CPU profiles to <dir>/<process> on exit (for flame graphs).
    ...(process.env.CPU_PROF ? { cpuProfileDir: process.env.CPU_PROF } : {}),
  });
  const nats = natsPid(stack.h.nats.port);
  const tokens = new Map<string, string>();
  return {
    name: 'lessoncall (2 gateways + 2 signaling, NATS, Postgres)',
    procs: [
      ...[...stack.gateways, ...stack.signaling, ...stack.backends, ...(nats ? [{ name: 'nats-server', pid: nats }] : [])].map((p) => ({
        name: p.name,
        pid: p.pid,
      })),
      { name: 'postgres', cpuSeconds: () => postgresCpuSeconds(stack.h.postgres?.port ?? 0) },
    ],
    async lessons(n) {
      const ms = await stack.meetings(n);
      // Signed beforehand: a browser arrives with its access token already in hand.
      await Promise.all(ms.flatMap((m) => [m.tutorId, m.studentId]).map(async (u) => tokens.set(u, await stack.token(u))));
      return ms;
    },
    async connect(p, events) {
      const l = p.lesson;
      // Both sides on the gateway the meeting hashes to, as the chart's WebSocket ingress routes
      // ?meeting= (the REST join too: any replica would do); SPLIT=1 puts them on different gateways.
      const home = process.env.SPLIT === '1' ? (p.role === 'tutor' ? 0 : 1) : Number.parseInt(l.meetingId.replaceAll('-', '').slice(-8), 16);
      const gw = stack.gateways[home % stack.gateways.length] ?? stack.gateways[0];
      if (!gw) throw new Error('no gateway');
      const userId = p.role === 'tutor' ? l.tutorId : l.studentId;
      const accessToken = tokens.get(userId) ?? (await stack.token(userId));
      const res = await fetch(`http://127.0.0.1:${gw.port}/api/video/meetings/${l.meetingId}/join`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ passcode: l.passcode, displayName: p.role }),
      });
      const body = (await res.json().catch(() => ({}))) as { sessionId?: string; resumeToken?: string; code?: string };
      if (res.status !== 200 || !body.sessionId) throw new CodedError(`rest:${body.code ?? res.status}`);
      p.joinedAt = performance.now();
      const sessionId = body.sessionId;
      let welcomed: (ok: boolean, code?: string) => void = () => {};
      const hello = new Promise<void>((resolve, reject) => {
        welcomed = (ok, code) => (ok ? resolve() : reject(new CodedError(`ws:${code}`)));
      });
      let joined = false;
      const ws = await openSocket(
        `${gw.wsUrl}?meeting=${l.meetingId}`,
        (data) => {
          const msg = JSON.parse(data.toString()) as {
            welcome?: unknown;
            signal?: { signal: { type: SignalKind; candidate?: { usernameFragment?: string } } };
            error?: { code: string };
            pong?: unknown;
          };
          if (msg.signal) {
            const s = msg.signal.signal;
            const index = s.type === 'candidate' ? indexOf(s.candidate?.usernameFragment) : 0;
            events.signal(index < 0 ? 'sentinel' : s.type, index);
          } else if (msg.welcome) {
            joined = true;
            welcomed(true);
          } else if (msg.error) {
            if (!joined) welcomed(false, msg.error.code);
            events.error(`ws:${msg.error.code}`, joined);
          } else if (msg.pong) events.pong();
        },
        () => {
          if (!joined) welcomed(false, 'closed');
        },
      ).catch(() => {
        throw new CodedError('ws:connect');
      });
      ws.send(
        JSON.stringify({
          requestId: 'hello',
          hello: { accessToken, meetingId: l.meetingId, passcode: l.passcode, displayName: p.role, resumeSessionId: sessionId, resumeToken: body.resumeToken },
        }),
      );
      // A refused hello ends this participant: close the socket, or the gateway's hello timeout adds an error of its own.
      await hello.catch((err: unknown) => {
        ws.close();
        throw err;
      });
      const sdp = { offer: offerSdp(l.index), answer: answerSdp(l.index) };
      return {
        address: sessionId,
        send(to, kind, index) {
          const signal = kind === 'candidate' || kind === 'sentinel' ? { type: 'candidate', candidate: candidateOf(index) } : { type: kind, sdp: sdp[kind] };
          ws.send(JSON.stringify({ signal: { toSessionId: to, signal } }));
        },
        ping: () => ws.send(JSON.stringify({ ping: { sentAtMs: String(Date.now()) } })),
        close() {
          if (ws.readyState === WebSocket.OPEN) ws.send('{"leave":{}}');
          ws.close();
        },
      };
    },
    exited: () => exitedOf([...stack.gateways, ...stack.signaling, ...stack.backends]),
    logTail: () => logTailOf([...stack.gateways, ...stack.signaling, ...stack.backends]),
    stop: () => stack.stop(),
  };
}

async function peerjs(): Promise<Relay> {
  const port = await freePort();
  const proc = startProcess('peerjs', 'bench/lib/peerjs-server.ts', { PORT: String(port) });
  await waitListening(port, proc);
  const base = `127.0.0.1:${port}/peerjs`;
  return {
    name: 'PeerJS server (npm peer)',
    procs: [{ name: 'peerjs', pid: proc.pid }],
    // PeerJS has no meetings: a lesson is two ids the application hands to both browsers.
    lessons: async (n) => Array.from({ length: n }, () => ({ meetingId: randomUUID(), passcode: '', tutorId: '', studentId: '' })),
    async connect(p, events) {
      // What a PeerJS client does without an id of its own: ask the server for one.
      const res = await fetch(`http://${base}/id`);
      if (res.status !== 200) throw new CodedError(`rest:${res.status}`);
      const id = await res.text();
      p.joinedAt = performance.now();
      let opened: (ok: boolean, code?: string) => void = () => {};
      const open = new Promise<void>((resolve, reject) => {
        opened = (ok, code) => (ok ? resolve() : reject(new CodedError(`ws:${code}`)));
      });
      let isOpen = false;
      const ws = await openSocket(
        `ws://${base}?key=peerjs&id=${id}&token=${randomUUID()}`,
        (data) => {
          const msg = JSON.parse(data.toString()) as { type: string; payload?: { candidate?: { usernameFragment?: string }; msg?: string } };
          if (msg.type === 'OPEN') {
            isOpen = true;
            opened(true);
          } else if (msg.type === 'OFFER') events.signal('offer', 0);
          else if (msg.type === 'ANSWER') events.signal('answer', 0);
          else if (msg.type === 'CANDIDATE') {
            const index = indexOf(msg.payload?.candidate?.usernameFragment);
            events.signal(index < 0 ? 'sentinel' : 'candidate', index);
          } else if (msg.type === 'ERROR' || msg.type === 'ID-TAKEN' || msg.type === 'EXPIRE') {
            if (!isOpen) opened(false, msg.type);
            events.error(`ws:${msg.type}`, isOpen);
          }
        },
        () => {
          if (!isOpen) opened(false, 'closed');
        },
      ).catch(() => {
        throw new CodedError('ws:connect');
      });
      await open;
      const l = p.lesson;
      const sdp = { offer: offerSdp(l.index), answer: answerSdp(l.index) };
      const connectionId = `mc_${l.meetingId.slice(0, 12)}`;
      return {
        address: id,
        send(to, kind, index) {
          const payload =
            kind === 'candidate' || kind === 'sentinel'
              ? { candidate: candidateOf(index), type: 'media', connectionId }
              : { sdp: { type: kind, sdp: sdp[kind] }, type: 'media', connectionId, browser: 'chrome' };
          ws.send(JSON.stringify({ type: kind === 'sentinel' ? 'CANDIDATE' : kind.toUpperCase(), dst: to, payload }));
        },
        ping: () => ws.send('{"type":"HEARTBEAT"}'),
        close: () => ws.close(),
      };
    },
    exited: () => exitedOf([proc]),
    logTail: () => logTailOf([proc]),
    stop: () => proc.stop(),
  };
}

const logTailOf = (procs: Proc[]) => Object.fromEntries(procs.map((p) => [`${p.name}#${p.pid}`, p.output().slice(-1_500)]).filter(([, out]) => out !== ''));

class CodedError extends Error {
  constructor(readonly code: string) {
    super(code);
    this.name = 'CodedError';
  }
}

/** One hour strike on one relay. */
async function strike(relay: Relay, random: () => number) {
  const opened = await relay.lessons(lessons);
  const errors: Record<string, number> = {};
  const signals = { sent: 0, delivered: 0, refused: 0 };
  const heartbeats = { sent: 0, answered: 0 };
  const all: Lesson[] = opened.map((o, index) => {
    const l = { ...o, index } as Lesson;
    const side = (role: Participant['role']): Participant => ({
      lesson: l,
      role,
      arriveAtMs: random() * spreadS * 1000,
      candidates: candidatesPerSide[0] + Math.floor(random() * (candidatesPerSide[1] - candidatesPerSide[0] + 1)),
      hasDescription: false,
      candidatesReceived: 0,
      sentinelArrived: false,
    });
    l.sides = [side('tutor'), side('student')];
    return l;
  });
  const peerOf = (p: Participant) => (p.lesson.sides[0] === p ? p.lesson.sides[1] : p.lesson.sides[0]);
  let doneLessons = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((r) => (allDone = r));
  const sendTo = (from: Participant, kind: SignalKind, index = 0) => {
    const to = peerOf(from);
    if (!from.conn || !to.conn) return;
    signals.sent++;
    from.conn.send(to.conn.address, kind, index);
  };
  const describeAndTrickle = (p: Participant, kind: 'offer' | 'answer') => {
    sendTo(p, kind);
    for (let i = 0; i < p.candidates; i++) sendTo(p, 'candidate', i);
  };
  const checkDone = (p: Participant) => {
    if (p.doneAt !== undefined || !p.hasDescription || p.candidatesReceived < peerOf(p).candidates) return;
    p.doneAt = performance.now();
    if (peerOf(p).doneAt !== undefined && ++doneLessons === all.length) allDone();
  };
  let sentinels = 0;
  let allSentinels: () => void = () => {};
  const sentinelsIn = new Promise<void>((r) => (allSentinels = r));
  let expectedSentinels = Number.POSITIVE_INFINITY;
  const onSignal = (p: Participant) => (kind: SignalKind, _index: number) => {
    signals.delivered++;
    if (kind === 'sentinel') {
      p.sentinelArrived = true;
      if (++sentinels >= expectedSentinels) allSentinels();
      return;
    }
    if (kind === 'offer') {
      p.hasDescription = true;
      describeAndTrickle(p, 'answer');
    } else if (kind === 'answer') p.hasDescription = true;
    else p.candidatesReceived++;
    checkDone(p);
  };
  const heartbeat = setInterval(
    () => {
      for (const l of all)
        for (const p of l.sides)
          if (p.readyAt !== undefined && !p.failed) {
            heartbeats.sent++;
            p.conn?.ping();
          }
    },
    relay.name.startsWith('PeerJS') ? heartbeatMs.peerjs : heartbeatMs.lessoncall,
  );
  let retries = 0;
  const arrive = async (p: Participant) => {
    p.arrivedAt = performance.now();
    // As the web client does: `unavailable` says "try again in a second", so the participant
    // does, up to ATTEMPTS times; every refusal is still counted by its code.
    for (let attempt = 1; ; attempt++) {
      try {
        p.conn = await relay.connect(p, {
          signal: onSignal(p),
          error: (code, whileSignalling) => {
            // Before the welcome the failure is counted once, where connect() throws it.
            if (!whileSignalling) return;
            count(errors, code);
            signals.refused++;
          },
          pong: () => heartbeats.answered++,
        });
        break;
      } catch (err) {
        const code = err instanceof CodedError ? err.code : 'client';
        count(errors, code);
        if (!code.endsWith(':unavailable') || attempt >= attempts) {
          p.failed = code;
          return;
        }
        retries++;
        await sleep(retryAfterMs * attempt);
      }
    }
    p.readyAt = performance.now();
    const peer = peerOf(p);
    // The newcomer offers to a peer that is already listening.
    if (peer.readyAt !== undefined && peer.conn) {
      p.lesson.offerer = p;
      p.lesson.offerAt = performance.now();
      describeAndTrickle(p, 'offer');
    }
  };

  const meter = cpuMeter(relay.procs);
  const t0 = performance.now();
  const arrivals = all.flatMap((l) => l.sides).sort((a, b) => a.arriveAtMs - b.arriveAtMs);
  const inFlight: Array<Promise<void>> = [];
  for (const p of arrivals) {
    const wait = t0 + p.arriveAtMs - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(arrive(p));
  }
  await Promise.all(inFlight);
  await Promise.race([finished, sleep(settleS * 1000)]);
  const negotiatedBy = performance.now();
  const cpu = meter();
  const roundSeconds = (negotiatedBy - t0) / 1000;

  // Sentinels: after them nothing of this round is still on its way.
  const connected = all.flatMap((l) => l.sides).filter((p) => p.conn && peerOf(p).conn);
  expectedSentinels = connected.length;
  if (expectedSentinels === 0) allSentinels();
  for (const p of connected) sendTo(p, 'sentinel', -1);
  if (sentinels >= expectedSentinels) allSentinels();
  await Promise.race([sentinelsIn, sleep(10_000)]);
  clearInterval(heartbeat);
  const rss = Object.fromEntries(relay.procs.flatMap((p) => (p.pid ? [[`${p.name}#${p.pid}`, rssKb(p.pid)]] : [])));
  for (const l of all) for (const p of l.sides) p.conn?.close();

  const negotiated = all.filter((l) => l.sides.every((p) => p.doneAt !== undefined));
  const ready = negotiated.map((l) => Math.max(...l.sides.map((p) => p.doneAt as number)) - Math.max(...l.sides.map((p) => p.arrivedAt as number)));
  const negotiation = negotiated.map((l) => Math.max(...l.sides.map((p) => p.doneAt as number)) - (l.offerAt as number));
  const sides = all.flatMap((l) => l.sides);
  const joins = sides.filter((p) => p.joinedAt !== undefined);
  const joinSpan = (Math.max(...joins.map((p) => p.joinedAt as number)) - Math.min(...joins.map((p) => p.arrivedAt as number))) / 1000;
  const missingSentinels = connected.filter((p) => !peerOf(p).sentinelArrived).length;
  return {
    lessons: all.length,
    negotiated: negotiated.length,
    notNegotiated: all.length - negotiated.length,
    /** Later arrival → both sides hold the other's description and all its candidates. */
    lessonReadyMs: summarize(ready),
    /** The offer leaving → both sides complete: the relay's part alone. */
    negotiationMs: summarize(negotiation),
    joinMs: summarize(joins.map((p) => (p.joinedAt as number) - (p.arrivedAt as number))),
    socketMs: summarize(sides.filter((p) => p.readyAt !== undefined).map((p) => (p.readyAt as number) - (p.joinedAt as number))),
    joinsPerSecond: round(joins.length / joinSpan, 1),
    signals: { ...signals, lost: signals.sent - signals.delivered - signals.refused, sentinelsMissing: missingSentinels },
    heartbeats,
    errors,
    retries,
    seconds: round(roundSeconds, 2),
    cpu,
    serverRssKb: rss,
    exitedProcesses: relay.exited(),
    serverLogTail: Object.keys(errors).length > 0 ? relay.logTail() : undefined,
  };
}

type Strike = Round<Awaited<ReturnType<typeof strike>>>;

function headline(rs: Strike[]) {
  return medianOfRounds(rs, {
    p50Ms: (r) => r.lessonReadyMs.p50,
    p90Ms: (r) => r.lessonReadyMs.p90,
    p99Ms: (r) => r.lessonReadyMs.p99,
    negotiationP99Ms: (r) => r.negotiationMs.p99,
    joinsPerSecond: (r) => r.joinsPerSecond,
    negotiated: (r) => r.negotiated,
    lost: (r) => r.signals.lost,
    serverCores: (r) => r.cpu.serverCores,
  });
}

async function main() {
  const run = bounded('lesson-start', deadlineMs);
  const started = Date.now();
  try {
    const ours = run.keep(await lessoncall());
    const anchor = run.keep(await peerjs());
    const random = seededRandom(seed);
    const results = new Map<Relay, Strike[]>([
      [ours, []],
      [anchor, []],
    ]);
    // One warm-up strike each (JIT, pools, connections), not reported.
    for (const r of [ours, anchor]) await strike(r, seededRandom(seed + 1000));
    // Rounds alternate the relays, so a burst of other work on the shared machine does not fall on one only.
    for (let i = 1; i <= rounds; i++) {
      for (const r of [ours, anchor]) {
        const idle = idleMeter();
        const s: Strike = { ...(await strike(r, random)), round: i, ...idle() };
        results.get(r)?.push(s);
        console.log(
          `  round ${i}/${rounds} ${r.name}: ${s.negotiated}/${s.lessons} negotiated, ready p50 ${s.lessonReadyMs.p50} ms p99 ${s.lessonReadyMs.p99} ms, ` +
            `${s.joinsPerSecond} joins/s, signals ${s.signals.delivered}/${s.signals.sent} (lost ${s.signals.lost}), errors ${JSON.stringify(s.errors)}, ` +
            `servers ${s.cpu.serverCores} cores, generator ${s.cpu.generatorCores}, machine idle ${Math.round(s.idleShare * 100)}%`,
        );
        for (const x of s.exitedProcesses) console.error(`  ${x.name} exited (${x.code ?? x.signal}):\n${x.output}`);
      }
    }
    const oursRounds = results.get(ours) ?? [];
    const anchorRounds = results.get(anchor) ?? [];
    const h = { lessoncall: headline(oursRounds), peerjs: headline(anchorRounds) };
    const result = {
      benchmark: 'lesson-start',
      what: 'the hour strikes: every lesson starts within SPREAD_S seconds; REST join, WebSocket, offer/answer/candidates between the two participants, heartbeats',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map((x) => round(x)) },
      setup: {
        lessons,
        participants: lessons * 2,
        placement:
          process.env.SPLIT === '1'
            ? "each lesson's tutor on one gateway and its student on the other (SPLIT=1)"
            : "each lesson's join and socket on the gateway its meeting hashes to, as the chart's WebSocket ingress routes ?meeting=",
        spreadSeconds: spreadS,
        rounds,
        settleSeconds: settleS,
        attempts,
        retry: 'a join or hello answered `unavailable` is tried again after 1 s × the attempt, as the web client does; lesson time includes the retries',
        seed,
        offerBytes: offerSdp(0).length,
        answerBytes: answerSdp(0).length,
        candidatesPerSide,
        heartbeatMs,
        lessoncall:
          'gateway ×2, signaling ×2, meeting, participant, turn: one process each (main.ts); harness NATS + Postgres; tutor and student on different gateways',
        anchor: 'PeerJS server (npm peer) in its own process, same pattern in its protocol; measured in the same run, rounds alternating',
        loadGenerator: 'this process: every participant of both relays (fetch + ws), one event loop; loopback only',
        idleShare: "the machine's idle CPU during each round (all cores, /proc/stat): read the figures together with it",
      },
      target: { negotiatedAll: true, lostSignals: 0, p99Ms: 1000 },
      headline: {
        ...h,
        ratioToPeerjs: {
          p50: ratio(h.lessoncall.median.p50Ms, h.peerjs.median.p50Ms),
          p99: ratio(h.lessoncall.median.p99Ms, h.peerjs.median.p99Ms),
          joinsPerSecond: ratio(h.lessoncall.median.joinsPerSecond, h.peerjs.median.joinsPerSecond),
        },
      },
      verdict: {
        everyLessonNegotiatedEveryRound: oursRounds.every((r) => r.negotiated === r.lessons),
        noSignalLostEveryRound: oursRounds.every((r) => r.signals.lost === 0 && r.signals.sentinelsMissing === 0),
        p99Met: h.lessoncall.median.p99Ms <= 1000,
      },
      rounds: { lessoncall: oursRounds, peerjs: anchorRounds },
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    await writeResult('lesson-start.json', result);
    console.log(
      `lesson-start, median of ${rounds} rounds: lessoncall ready p50 ${h.lessoncall.median.p50Ms} ms p99 ${h.lessoncall.median.p99Ms} ms, ` +
        `${h.lessoncall.median.joinsPerSecond} joins/s; PeerJS p50 ${h.peerjs.median.p50Ms} ms p99 ${h.peerjs.median.p99Ms} ms; ` +
        `ratio p50 ${result.headline.ratioToPeerjs.p50}, p99 ${result.headline.ratioToPeerjs.p99}; ${JSON.stringify(result.verdict)}`,
    );
    console.log(`wrote bench/results/lesson-start.json in ${result.wallSeconds} s`);
  } finally {
    await run.stopAll();
  }
}

runBenchmark(main);
