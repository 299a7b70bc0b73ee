/**
 * Join → first remote video frame, at both ends, over repeated runs — the full stack with media
 * forced through the local coturn — next to two bare RTCPeerConnections signalled directly in
 * the same browser, in the same run, with the same RTCConfiguration (same TURN server and
 * credentials, relay only), and once more without TURN (host candidates).
 *
 * One run of the full stack: the tutor is already in the call; the student sits in the lobby
 * with camera and microphone on (as after the lobby); t0 is the student's click on "Join"
 * (taken in the page); the run ends when both the student has presented the tutor's first frame
 * and the tutor has presented the student's (requestVideoFrameCallback on the <video> elements).
 * The student then leaves and goes back to the lobby for the next run.
 *
 *   pnpm exec tsx bench/join-to-frame.ts            (RUNS=15; uses .local/stack.env when it answers)
 *
 * Writes bench/results/join-to-frame.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { eventually, launchChromium, openParticipant } from './browser';
import { Bookings } from './meetings';
import { idleMeter } from '../../bench/lib/rounds';
import { findOrStartStack } from './stack';

const webDir = resolve(import.meta.dirname, '..');
const repoRoot = resolve(webDir, '..');
const runs = Number(process.env.RUNS ?? 15);
const warmup = Number(process.env.WARMUP ?? 2);

interface Sample {
  totalMs: number;
  /** First time of each lessoncall:* performance mark, ms after the click, per side (full stack only). */
  phases?: { joiner: Record<string, number>; other: Record<string, number> };
  /** Click → first frame presented on each side. */
  joinerMs: number;
  otherMs: number;
}

function summarize(samples: Sample[]) {
  const pick = (f: (s: Sample) => number) => {
    const v = samples.map(f).sort((a, b) => a - b);
    const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))] ?? Number.NaN;
    return { median: round(q(0.5)), p90: round(q(0.9)), min: round(v[0] ?? Number.NaN), max: round(v[v.length - 1] ?? Number.NaN) };
  };
  return {
    runs: samples.length,
    bothEnds: pick((s) => s.totalMs),
    joiner: pick((s) => s.joinerMs),
    other: pick((s) => s.otherMs),
    samples: samples.map((s) => round(s.totalMs)),
  };
}

/** Median ms after the click at which each step happened, per side, ordered by time. */
function phaseMedians(samples: Sample[], side: 'joiner' | 'other'): Record<string, number> {
  const steps = new Map<string, number[]>();
  for (const s of samples) for (const [k, v] of Object.entries(s.phases?.[side] ?? {})) steps.set(k, [...(steps.get(k) ?? []), v]);
  const med = (v: number[]) => {
    const x = [...v].sort((a, b) => a - b);
    return round(x[Math.floor((x.length - 1) / 2)] ?? Number.NaN);
  };
  return Object.fromEntries([...steps].map(([k, v]) => [k, med(v)] as const).sort((a, b) => a[1] - b[1]));
}

const round = (n: number) => Math.round(n * 10) / 10;

/** Records, in the page, when each remote <video> presents its first frame (epoch ms, keyed by session). */
async function watchFirstFrames(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { __firstFrames: Record<string, number>; __joinClickAt: number; __watching?: MutationObserver };
    w.__firstFrames = {};
    w.__joinClickAt = 0;
    performance.clearMarks();
    // Phases the app marks no step for (socket, offer, answer, ICE): marked here by wrapping the
    // globals the app constructs at join time, once per page.
    const g = window as unknown as { __phases?: true; WebSocket: typeof WebSocket; RTCPeerConnection: typeof RTCPeerConnection };
    if (!g.__phases) {
      g.__phases = true;
      const mark = (step: string) => performance.mark(`lessoncall:${step}`);
      g.WebSocket = class extends g.WebSocket {
        constructor(...args: ConstructorParameters<typeof WebSocket>) {
          super(...args);
          this.addEventListener('open', () => mark('socket'), { once: true });
        }
      };
      g.RTCPeerConnection = class extends g.RTCPeerConnection {
        constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
          super(...args);
          this.addEventListener('iceconnectionstatechange', () => {
            if (this.iceConnectionState === 'connected' || this.iceConnectionState === 'completed') mark('ice');
          });
          // The signaling state says which description was set: stable after have-local-offer is the answer received.
          let previous: RTCSignalingState = this.signalingState;
          this.addEventListener('signalingstatechange', () => {
            const now = this.signalingState;
            if (now === 'have-local-offer') mark('offer-sent');
            else if (now === 'have-remote-offer') mark('offer-received');
            else if (now === 'stable' && previous === 'have-remote-offer') mark('answer-sent');
            else if (now === 'stable' && previous === 'have-local-offer') mark('answer-received');
            previous = now;
          });
        }
      };
    }
    const known = new WeakSet<HTMLVideoElement>();
    for (const v of document.querySelectorAll<HTMLVideoElement>('[data-testid="remote-video"]')) known.add(v); // already there: not this run's
    const arm = () => {
      for (const v of document.querySelectorAll<HTMLVideoElement>('[data-testid="remote-video"]')) {
        if (known.has(v)) continue;
        known.add(v);
        const id = v.closest('[data-session-id]')?.getAttribute('data-session-id') ?? 'unknown';
        v.requestVideoFrameCallback(() => {
          w.__firstFrames[id] ??= performance.timeOrigin + performance.now();
        });
      }
    };
    w.__watching?.disconnect();
    w.__watching = new MutationObserver(arm);
    w.__watching.observe(document.body, { childList: true, subtree: true });
    const join = document.querySelector('[data-testid="lobby-join"]');
    join?.addEventListener('click', () => (w.__joinClickAt = performance.timeOrigin + performance.now()), { capture: true, once: true });
  });
}

/** Epoch ms of the first occurrence of each lessoncall:* mark. */
const marks = (page: Page) =>
  page.evaluate(() => {
    const out: Record<string, number> = {};
    for (const m of performance.getEntriesByType('mark')) {
      if (!m.name.startsWith('lessoncall:')) continue;
      out[m.name.slice('lessoncall:'.length)] ??= performance.timeOrigin + m.startTime;
    }
    return out;
  });

const relative = (m: Record<string, number>, t0: number) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v - t0)]));

const firstFrames = (page: Page) => page.evaluate(() => (window as unknown as { __firstFrames: Record<string, number> }).__firstFrames);

async function lobbyReady(page: Page) {
  await eventually('lobby ready', async () => {
    const enabled = await page.getByTestId('lobby-join').isEnabled();
    const playing = await page
      .getByTestId('lobby-preview')
      .evaluate((v) => (v as HTMLVideoElement).readyState >= 2)
      .catch(() => false);
    return enabled && playing;
  });
  // Let the camera settle as a user looking at the preview would.
  await page.waitForTimeout(500);
}

async function fullStackRun(tutor: Page, student: Page): Promise<Sample & { config: RTCConfiguration | undefined }> {
  await lobbyReady(student);
  await watchFirstFrames(tutor);
  await watchFirstFrames(student);
  await student.getByTestId('lobby-join').click();
  const { joiner, other, t0 } = await eventually(
    'first frames at both ends',
    async () => {
      const t0 = await student.evaluate(() => (window as unknown as { __joinClickAt: number }).__joinClickAt);
      const joiner = Object.values(await firstFrames(student))[0];
      const other = Object.values(await firstFrames(tutor))[0];
      return t0 && joiner && other ? { joiner, other, t0 } : undefined;
    },
    20_000,
    25,
  );
  const config = await tutor.evaluate(() => window.__lessoncall?.rtcConfiguration());
  const phases = {
    joiner: { ...relative(await marks(student), t0), 'first-frame': round(joiner - t0) },
    other: { ...relative(await marks(tutor), t0), 'first-frame': round(other - t0) },
  };
  // Back to the lobby for the next run, after the tutor has seen the student go.
  await student.getByTestId('control-leave').click();
  await tutor.getByTestId('tile-remote').waitFor({ state: 'detached', timeout: 10_000 });
  await student.getByTestId('rejoin-button').click();
  return { totalMs: Math.max(joiner, other) - t0, joinerMs: joiner - t0, otherMs: other - t0, config, phases };
}

/** Two RTCPeerConnections in one page, offer/answer and candidates passed directly, media acquired beforehand. */
async function barePairRun(page: Page, config: RTCConfiguration): Promise<Sample> {
  return page.evaluate(async (cfg) => {
    const w = window as unknown as { __streams?: MediaStream[] };
    const constraints = { audio: true, video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } } };
    w.__streams ??= [await navigator.mediaDevices.getUserMedia(constraints), await navigator.mediaDevices.getUserMedia(constraints)];
    const [sa, sb] = w.__streams as [MediaStream, MediaStream];
    await new Promise((r) => setTimeout(r, 300));
    const now = () => performance.timeOrigin + performance.now();
    const firstFrame = (pc: RTCPeerConnection) =>
      new Promise<number>((resolve) => {
        pc.ontrack = (ev) => {
          if (ev.track.kind !== 'video') return;
          const v = document.createElement('video');
          v.muted = true;
          v.autoplay = true;
          v.playsInline = true;
          v.srcObject = new MediaStream([ev.track]);
          document.body.append(v);
          v.requestVideoFrameCallback(() => resolve(now()));
          void v.play();
        };
      });
    const t0 = now();
    const a = new RTCPeerConnection(cfg);
    const b = new RTCPeerConnection(cfg);
    a.onicecandidate = (e) => e.candidate && void b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && void a.addIceCandidate(e.candidate);
    const fa = firstFrame(a);
    const fb = firstFrame(b);
    for (const t of sa.getTracks()) a.addTrack(t, sa);
    for (const t of sb.getTracks()) b.addTrack(t, sb);
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription as RTCSessionDescription);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription as RTCSessionDescription);
    const [ta, tb] = await Promise.all([fa, fb]);
    a.close();
    b.close();
    for (const v of document.querySelectorAll('video')) v.remove();
    return { totalMs: Math.max(ta, tb) - t0, joinerMs: ta - t0, otherMs: tb - t0 };
  }, config);
}

async function main() {
  if (!process.env.E2E_SKIP_BUILD) {
    const r = spawnSync('pnpm', ['exec', 'vite', 'build', '--mode', 'test', '--logLevel', 'warn'], { cwd: webDir, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('vite build failed');
  }
  const loadBefore = loadavg();
  const stack = await findOrStartStack();
  const bookings = await Bookings.connect(stack.env);
  const browser = await launchChromium();
  try {
    const meeting = await bookings.book({ title: 'join-to-frame benchmark', minutes: 120 });
    const url = (as: string) => `${stack.env.WEB_URL}/meet/${meeting.meetingId}?pwd=${meeting.passcode}&as=${as}&relay=1`;
    const tutor = await openParticipant(browser, 'tutor', url('tutor'));
    await lobbyReady(tutor.page);
    await tutor.page.getByTestId('lobby-join').click();
    await tutor.page.getByTestId('waiting').waitFor({ timeout: 15_000 });
    const student = await openParticipant(browser, 'student', url('student'));
    const bare = await openParticipant(browser, 'bare', `${stack.env.WEB_URL}/__bench`);

    const full: Sample[] = [];
    const bareRelay: Sample[] = [];
    const bareDirect: Sample[] = [];
    let relayConfig: RTCConfiguration | undefined;
    const idleShares: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const idle = idleMeter();
      const f = await fullStackRun(tutor.page, student.page);
      relayConfig ??= f.config;
      if (!relayConfig) throw new Error('no RTCConfiguration from the app');
      const r = await barePairRun(bare.page, { iceServers: relayConfig.iceServers ?? [], iceTransportPolicy: 'relay', bundlePolicy: 'max-bundle' });
      const d = await barePairRun(bare.page, { iceServers: [], bundlePolicy: 'max-bundle' });
      const { idleShare } = idle();
      const label = i < warmup ? 'warm-up' : `run ${i - warmup + 1}/${runs}`;
      console.log(
        `${label}: full stack ${round(f.totalMs)} ms (student ${round(f.joinerMs)}, tutor ${round(f.otherMs)}); bare relay ${round(r.totalMs)} ms; bare direct ${round(d.totalMs)} ms (machine idle ${Math.round(idleShare * 100)}%)`,
      );
      if (i >= warmup) {
        idleShares.push(idleShare);
        full.push(f);
        bareRelay.push(r);
        bareDirect.push(d);
      }
    }
    const fullStack = summarize(full);
    const barePairRelay = summarize(bareRelay);
    const barePairDirect = summarize(bareDirect);
    const result = {
      benchmark: 'join-to-frame',
      description:
        'Student clicks Join (tutor already in the call, media on) → first remote frame presented at both ends; full stack (gateway, participant, signaling, turn, meeting, NATS, Postgres) with ICE relay-only through the local coturn. Bare pairs: two RTCPeerConnections in one page, signalled directly, same RTCConfiguration (relay) and without TURN (direct).',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, chromium: browser.version() },
      // 1-minute load average before and after: other work on the machine shows up in the tails.
      loadAverage: { before: round(loadBefore[0] ?? 0), after: round(loadavg()[0] ?? 0) },
      runs,
      warmup,
      fullStack,
      // Where the full stack's time goes: median ms after the click, the student (joiner) and the tutor.
      phases: { student: phaseMedians(full, 'joiner'), tutor: phaseMedians(full, 'other') },
      // Every run, in order, with the machine's idle CPU over it (full stack and both bare pairs).
      runsInOrder: full.map((f, i) => ({
        fullStackMs: round(f.totalMs),
        barePairRelayMs: round(bareRelay[i]?.totalMs ?? Number.NaN),
        barePairDirectMs: round(bareDirect[i]?.totalMs ?? Number.NaN),
        idleShare: idleShares[i],
        phases: f.phases,
      })),
      barePairRelay,
      barePairDirect,
      overheadOverBareRelayMs: round(fullStack.bothEnds.median - barePairRelay.bothEnds.median),
      overheadOverBareDirectMs: round(fullStack.bothEnds.median - barePairDirect.bothEnds.median),
      targets: { medianMs: 1000, overheadOverBareMs: 150 },
      meetsTargets: {
        median: fullStack.bothEnds.median <= 1000,
        overhead: fullStack.bothEnds.median - barePairRelay.bothEnds.median <= 150,
      },
    };
    const out = join(repoRoot, 'bench/results/join-to-frame.json');
    mkdirSync(join(repoRoot, 'bench/results'), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `\nfull stack: median ${fullStack.bothEnds.median} ms, p90 ${fullStack.bothEnds.p90} ms | bare relay: median ${barePairRelay.bothEnds.median} ms, p90 ${barePairRelay.bothEnds.p90} ms | bare direct: median ${barePairDirect.bothEnds.median} ms\n→ ${out}`,
    );
  } finally {
    await browser.close().catch(() => {});
    await bookings.close().catch(() => {});
    await stack.stop();
  }
}

await main();
