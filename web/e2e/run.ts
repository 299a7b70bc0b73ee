/**
 * `npm run test:e2e`: the web app in Debian's Chromium against the full local stack — a tutor
 * and a student in two browser contexts, media forced through the local coturn (`?relay=1`).
 * Builds the app, starts (or finds) the stack, runs the scenarios in order (later ones use the
 * call the earlier ones set up), saves screenshots to e2e/screenshots, and writes
 * "passed=N failed=M" to $TEST_COUNTS_FILE for the repo's test runner.
 */
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Browser as PuppeteerBrowser } from 'puppeteer-core';
import {
  candidateTypes,
  eventually,
  framesDecoded,
  holdMedia,
  launchChromium,
  newContext,
  openParticipant,
  type Participant,
  releaseMedia,
  remoteVideos,
  saveDiagnostics,
} from './browser';
import { crossBrowserLesson } from './cross-browser';
import { type DrivenPage, fromPlaywright, launchFirefox, openFirefoxPage } from './firefox';
import { groupLesson } from './group-lesson';
import { Bookings, type TestMeeting } from './meetings';
import { peerLinkBundle } from './peer-harness';
import { type E2eStack, findOrStartStack } from './stack';
import { UdpImpairment } from './udp-impair';

const webDir = resolve(import.meta.dirname, '..');
const screenshots = join(webDir, 'e2e/screenshots');
const resultsDir = join(webDir, 'e2e/results');

interface Ctx {
  stack: E2eStack;
  /** Relayed Chromium join reports the gateway had counted before the main call. */
  joinReportsBefore?: number;
  browser: Browser;
  /** Launched by the first Firefox scenario. */
  firefox?: PuppeteerBrowser;
  bookings: Bookings;
  main: TestMeeting;
  tutor?: Participant;
  student?: Participant;
  others: Participant[];
}

/** `retries`: only for a scenario with its own browser context and no state shared with the others. */
type Scenario = { name: string; run: (c: Ctx) => Promise<void>; retries: number };
const scenarios: Scenario[] = [];
const scenario = (name: string, run: (c: Ctx) => Promise<void>, retries = 0) => scenarios.push({ name, run, retries });

/** The link as the meeting service writes it: the passcode in the fragment (join-to-frame.ts keeps the old `?pwd=`). */
function meetingUrl(c: Ctx, m: TestMeeting, as: 'tutor' | 'student', passcode = m.passcode) {
  return `${c.stack.env.WEB_URL}/meet/${m.meetingId}?as=${as}&relay=1#pwd=${passcode}`;
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
}

function need<T>(v: T | undefined, what: string): T {
  if (!v) throw new Error(`${what} is missing (an earlier scenario failed)`);
  return v;
}

/** Both ends decode video from the other, and the frames keep coming. */
async function bothSeeVideo(a: Page, b: Page, minFrames = 1) {
  for (const p of [a, b]) {
    await eventually(
      'remote frames decoded',
      async () => {
        const f = Object.values(await framesDecoded(p));
        const v = await remoteVideos(p);
        return f.length > 0 && f.every((n) => n >= minFrames) && v.length > 0 && v.every((x) => x.frames > 0 && x.playing);
      },
      20_000,
    );
  }
}

async function framesAdvance(page: Page, what: string) {
  const before = Object.values(await framesDecoded(page))[0] ?? 0;
  await eventually(`${what}: frames advance`, async () => (Object.values(await framesDecoded(page))[0] ?? 0) > before + 10, 10_000);
}

// ── Perfect negotiation, in one page ─────────────────────────────────────

async function glare(c: Ctx, bCameraOff: boolean) {
  // The bundle is evaluated into the page: the app's CSP would (rightly) refuse it.
  const context = await newContext(c.browser, { bypassCSP: true });
  const page = await context.newPage();
  c.others.push({ name: 'glare', context, page, logs: [] });
  await page.goto(`${c.stack.env.WEB_URL}/__peer-test`);
  await page.evaluate(await peerLinkBundle());
  const result = await page.evaluate(async (bCameraOff) => {
    type Link = {
      pc: RTCPeerConnection;
      remoteStream: MediaStream;
      initiate(): void;
      handleSignal(s: unknown): Promise<void>;
      setTrack(kind: string, t: MediaStreamTrack | undefined): Promise<void>;
      setMeta(m: { screenSharing: boolean }): void;
      restartIce(): void;
    };
    const { PeerLink } = (window as unknown as { LessoncallPeer: { PeerLink: new (o: unknown) => Link } }).LessoncallPeer;
    const media = () => navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const streams = { a: await media(), b: await media() };
    const links: Record<string, Link> = {};
    const metas: Record<string, boolean[]> = { a: [], b: [] };
    const sdpRounds: Record<string, number> = { a: 0, b: 0 };
    const make = (me: 'a' | 'b', other: 'a' | 'b') =>
      new PeerLink({
        remoteSessionId: other === 'a' ? 'session-aaaa' : 'session-bbbb',
        // as the app decides: the larger session id is polite
        polite: me === 'b',
        config: { iceServers: [] },
        local: () => ({
          audio: streams[me].getAudioTracks()[0],
          video: me === 'b' && bCameraOff ? undefined : streams[me].getVideoTracks()[0],
          stream: streams[me],
        }),
        events: {
          // Through a "server": later, and in order, like the real relay.
          signal: (s: { type: string }) => {
            if (s.type === 'offer' || s.type === 'answer') sdpRounds[me] = (sdpRounds[me] ?? 0) + 1;
            setTimeout(() => void links[other]?.handleSignal(JSON.parse(JSON.stringify(s))), 10);
          },
          remoteStream: () => {},
          connectionState: () => {},
          remoteMeta: (m: { screenSharing: boolean }) => metas[me]?.push(m.screenSharing),
        },
      });
    links.a = make('a', 'b');
    links.b = make('b', 'a');
    // Glare: both offer in the same task.
    links.a.initiate();
    links.b.initiate();
    const until = async (what: string, f: () => boolean, ms = 15_000) => {
      const end = Date.now() + ms;
      while (!f()) {
        if (Date.now() > end) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const A = links.a;
    const B = links.b;
    await until('connected', () => A.pc.connectionState === 'connected' && B.pc.connectionState === 'connected');
    const frames = async (l: Link) => {
      let n = 0;
      for (const s of (await l.pc.getStats()).values()) if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded ?? 0;
      return n;
    };
    let fa = 0;
    let fb = 0;
    const end = Date.now() + 15_000;
    while (((fa === 0 && !bCameraOff) || fb === 0) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      fa = await frames(A);
      fb = await frames(B);
    }
    const live = (l: Link) => l.pc.getTransceivers().filter((t) => t.currentDirection !== 'stopped' && t.mid !== null).length;
    const sending = (l: Link, s: MediaStream) => l.pc.getSenders().filter((x) => x.track && s.getTracks().includes(x.track)).length;
    await new Promise((r) => setTimeout(r, 300));
    const dump = (l: Link) =>
      l.pc
        .getTransceivers()
        .map(
          (t) =>
            `${t.mid}:${t.direction}/${t.currentDirection}:${t.sender.track?.kind ?? '-'}:${(t as unknown as { stopped?: boolean }).stopped ? 'stopped' : ''}`,
        );
    const state = {
      signaling: [A.pc.signalingState, B.pc.signalingState],
      live: [live(A), live(B)],
      sending: [sending(A, streams.a), sending(B, streams.b)],
      frames: [fa, fb],
      tA: dump(A),
      tB: dump(B),
      rounds: { ...sdpRounds },
    };

    // Meta over the data channel.
    A.setMeta({ screenSharing: true });
    await until('meta', () => metas.b?.includes(true) ?? false);

    // A track swap does not renegotiate.
    const roundsBefore = { ...sdpRounds };
    const other = (await media()).getVideoTracks()[0];
    await A.setTrack('video', other);
    await new Promise((r) => setTimeout(r, 500));
    const swapRenegotiated = sdpRounds.a !== roundsBefore.a || sdpRounds.b !== roundsBefore.b;

    // An ICE restart from the polite side: new credentials, still connected, frames keep coming.
    const ufrag = (l: Link) => /a=ice-ufrag:(\S+)/.exec(l.pc.localDescription?.sdp ?? '')?.[1];
    const before = ufrag(B);
    B.restartIce();
    await until('new ICE credentials', () => ufrag(B) !== before && A.pc.signalingState === 'stable' && B.pc.signalingState === 'stable');
    await until('connected after restart', () => A.pc.connectionState === 'connected' && B.pc.connectionState === 'connected');
    const fb2 = await frames(B);
    await new Promise((r) => setTimeout(r, 1000));
    const advancing = (await frames(B)) > fb2;
    A.pc.close();
    B.pc.close();
    return { ...state, swapRenegotiated, advancing, restarted: ufrag(B) !== before };
  }, bCameraOff);
  // Exactly one audio and one video transceiver each, nothing pending, each side sending what it has.
  const want = { signaling: ['stable', 'stable'], live: [2, 2], sending: [2, bCameraOff ? 1 : 2] };
  if (JSON.stringify([result.signaling, result.live, result.sending]) !== JSON.stringify([want.signaling, want.live, want.sending])) {
    throw new Error(`after glare: ${JSON.stringify(result)}`);
  }
  // B (polite) sees A's video; A sees B's unless B's camera is off.
  if (!((result.frames[0] ?? 0) > 0 || bCameraOff) || !((result.frames[1] ?? 0) > 0)) throw new Error(`no video after glare: ${JSON.stringify(result.frames)}`);
  if (result.swapRenegotiated) throw new Error('replacing the video track renegotiated');
  if (!result.restarted || !result.advancing) throw new Error(`ICE restart: ${JSON.stringify(result)}`);
  await context.close();
}

// Self-contained (their own context, in-page signalling): one retry, reported, because two bare
// peers through the relay have timed out on "connected" about once in twenty clean-clone runs.
scenario('perfect negotiation: both sides offer at once, converge on one connection, survive an ICE restart', (c) => glare(c, false), 1);
scenario('perfect negotiation with the polite side’s camera off: still one transceiver per kind', (c) => glare(c, true), 1);

// ── Lobby and its error states ────────────────────────────────────────────

scenario('wrong passcode: the lobby says so and counts the attempts left', async (c) => {
  const m = await c.bookings.book({ title: 'Passcode check' });
  const wrong = m.passcode === '000000' ? '111111' : '000000';
  const p = await openParticipant(c.browser, 'wrong-passcode', meetingUrl(c, m, 'student', wrong));
  c.others.push(p);
  const error = p.page.locator('[data-testid="lobby-error"][data-code="passcode_invalid"]');
  await error.waitFor({ timeout: 15_000 });
  const text = (await error.textContent()) ?? '';
  if (!/Wrong passcode/.test(text) || !/attempts? left/.test(text)) throw new Error(`unexpected message: ${text}`);
  if (!(await p.page.getByTestId('lobby-join').isDisabled())) throw new Error('join should be disabled with a wrong passcode');
  await p.page.getByTestId('lobby-passcode-input').waitFor();
  await shot(p.page, 'error-wrong-passcode');
  // Typing the right one lets the user in.
  await p.page.getByTestId('lobby-passcode-input').fill(m.passcode);
  await p.page.getByTestId('lobby-passcode-submit').click();
  await eventually('join enabled', async () => p.page.getByTestId('lobby-join').isEnabled());
  await p.context.close();
});

scenario('lesson not started: the lobby shows a countdown', async (c) => {
  const m = await c.bookings.book({ title: 'Tomorrow’s lesson', startInMinutes: 120 });
  const p = await openParticipant(c.browser, 'not-started', meetingUrl(c, m, 'tutor'));
  c.others.push(p);
  const error = p.page.locator('[data-testid="lobby-error"][data-code="meeting_not_started"]');
  await error.waitFor({ timeout: 15_000 });
  const countdown = (await p.page.getByTestId('countdown').textContent()) ?? '';
  // 120 min to start, the window opens 15 min before: about 1:45:00 to go.
  if (!/Opens in 1:4\d:\d\d/.test(countdown)) throw new Error(`unexpected countdown: ${countdown}`);
  if (!(await p.page.getByTestId('lobby-join').isDisabled())) throw new Error('join should be disabled before the window opens');
  await shot(p.page, 'error-not-started');
  await p.context.close();
});

scenario('lobby: camera preview, microphone level, device pickers, lesson title', async (c) => {
  const tutor = await openParticipant(c.browser, 'tutor', meetingUrl(c, c.main, 'tutor'));
  c.tutor = tutor;
  const page = tutor.page;
  await page.getByTestId('lobby').waitFor({ timeout: 15_000 });
  await eventually('title', async () => (await page.getByTestId('lobby-title').textContent()) === c.main.title);
  await eventually('preview playing', async () =>
    page.getByTestId('lobby-preview').evaluate((v) => (v as HTMLVideoElement).readyState >= 2 && (v as HTMLVideoElement).videoWidth > 0),
  );
  await eventually('microphone level moves', async () => Number(await page.getByTestId('lobby-mic-level').getAttribute('data-level')) > 0.05, 10_000, 100);
  const cameras = await page.getByTestId('lobby-camera-select').locator('option').count();
  const mics = await page.getByTestId('lobby-mic-select').locator('option').count();
  if (cameras < 1 || mics < 1) throw new Error(`device pickers: ${cameras} cameras, ${mics} microphones`);
  await eventually('join enabled', async () => page.getByTestId('lobby-join').isEnabled());
  await shot(page, 'lobby');
});

// ── The pre-call check ────────────────────────────────────────────────────

interface PrecallSeen {
  phase: string;
  level: string | null;
  rows: Record<string, { state: string | null; text: string }>;
  verdict: string[];
  joinEnabledWhileRunning: boolean;
}

/** Clicks "Test my connection", waits for the outcome, and reads what the panel says. */
async function runPrecallCheck(page: DrivenPage, timeoutMs = 45_000): Promise<PrecallSeen> {
  await page.click('precall-start');
  let joinEnabledWhileRunning = false;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const seen = await page.evaluate(() => {
      const panel = document.querySelector('[data-testid="precall"]');
      const rows: Record<string, { state: string | null; text: string }> = {};
      for (const row of panel?.querySelectorAll('[data-state]') ?? []) {
        rows[(row.getAttribute('data-testid') ?? '').replace('precall-', '')] = { state: row.getAttribute('data-state'), text: row.textContent ?? '' };
      }
      const join = document.querySelector('[data-testid="lobby-join"]') as HTMLButtonElement | null;
      return {
        phase: panel?.getAttribute('data-phase') ?? 'missing',
        level: panel?.getAttribute('data-level') ?? null,
        rows,
        verdict: [...(panel?.querySelectorAll('[data-testid="precall-verdict"] li') ?? [])].map((li) => li.textContent ?? ''),
        joinEnabled: !!join && !join.disabled,
      };
    }, undefined);
    if (seen.phase === 'running' && seen.joinEnabled) joinEnabledWhileRunning = true;
    if (seen.phase === 'done' || seen.phase === 'failed') return { ...seen, joinEnabledWhileRunning };
    if (Date.now() > end) throw new Error(`the connection check did not finish: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function expectRows(seen: PrecallSeen, want: Record<string, string>) {
  for (const [row, state] of Object.entries(want)) {
    if (seen.rows[row]?.state !== state) throw new Error(`precall ${row}: ${JSON.stringify(seen.rows[row])}, expected ${state}; ${JSON.stringify(seen)}`);
  }
  if (!seen.joinEnabledWhileRunning) throw new Error('Join was not enabled while the check ran');
}

const precallFigures = (seen: PrecallSeen) =>
  `round trip ${seen.rows.rtt?.text.replace(/^Round trip.?/, '')}, upload ${seen.rows.upload?.text.replace(/^Upload.?/, '')}`;

/** The local coturn has no TLS listener (deploy/coturn/turnserver.local.conf: no-tls), so TLS is "not offered: not tested". */
const precallLocal = { udp: 'ok', tcp: 'ok', tls: 'untested', rtt: 'ok', upload: 'ok', camera: 'ok', microphone: 'ok' };

scenario(
  'pre-call check in the lobby (Chromium): UDP and TCP reach the local coturn, round trip, upload, camera and microphone through a loopback call',
  async (c) => {
    const m = await c.bookings.book({ title: 'Connection check' });
    const p = await openParticipant(c.browser, 'precall', meetingUrl(c, m, 'student'));
    c.others.push(p);
    try {
      await eventually('join enabled', async () => p.page.getByTestId('lobby-join').isEnabled(), 20_000);
      const seen = await runPrecallCheck(fromPlaywright(p.page, p.logs, async () => {}));
      expectRows(seen, precallLocal);
      if (seen.level !== 'good') throw new Error(`verdict ${seen.level}: ${seen.verdict.join(' / ')}`);
      await p.page.getByTestId('precall').scrollIntoViewIfNeeded();
      await shot(p.page, 'precall-check');
      console.log(`    pre-call check (Chromium): ${precallFigures(seen)}; ${seen.verdict.join(' ')}`);
      // Phone width: nothing sticks out sideways, and the keyboard reaches "Test again".
      await p.page.setViewportSize({ width: 390, height: 844 });
      const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (overflow > 0) throw new Error(`at phone width the lobby is ${overflow} px too wide`);
      await p.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      let reached = false;
      for (let i = 0; i < 40 && !reached; i++) {
        await p.page.keyboard.press('Tab');
        reached = await p.page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'precall-start');
      }
      if (!reached) throw new Error('the keyboard does not reach the connection check’s button');
      await p.page.getByTestId('precall').scrollIntoViewIfNeeded();
      await shot(p.page, 'precall-phone');
    } finally {
      await p.context.close();
    }
  },
);

scenario('pre-call check with UDP to coturn dropped: "your network blocks UDP", and it still passes over TCP', async (c) => {
  // A UDP port nobody listens on: what the browser sends there is lost, as behind a UDP-blocking firewall.
  const closed = await new Promise<number>((resolve) => {
    const sock = createSocket('udp4');
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
  const m = await c.bookings.book({ title: 'Connection check without UDP' });
  const p = await openParticipant(c.browser, 'precall-no-udp', meetingUrl(c, m, 'student'), undefined, async (context) => {
    await context.addInitScript((port) => {
      const rewrite = (cfg: RTCConfiguration | undefined): RTCConfiguration | undefined =>
        cfg && {
          ...cfg,
          iceServers: (cfg.iceServers ?? []).map((s) => ({
            ...s,
            urls: ([] as string[]).concat(s.urls).map((u) => (/^turn:[^?]+\?transport=udp$/.test(u) ? u.replace(/^turn:[^?]+/, `turn:127.0.0.1:${port}`) : u)),
          })),
        };
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(cfg?: RTCConfiguration) {
          super(rewrite(cfg));
        }
      };
    }, closed);
  });
  c.others.push(p);
  try {
    await eventually('join enabled', async () => p.page.getByTestId('lobby-join').isEnabled(), 20_000);
    const seen = await runPrecallCheck(fromPlaywright(p.page, p.logs, async () => {}));
    expectRows(seen, { ...precallLocal, udp: 'bad' });
    if (seen.level !== 'warn' || !seen.verdict.some((l) => /Your network blocks UDP; the lesson will still work through our relay over TCP/.test(l))) {
      throw new Error(`verdict ${seen.level}: ${seen.verdict.join(' / ')}`);
    }
    await p.page.getByTestId('precall').scrollIntoViewIfNeeded();
    await shot(p.page, 'precall-udp-blocked');
    console.log(`    pre-call check, UDP blocked: ${precallFigures(seen)}`);
  } finally {
    await p.context.close();
  }
});

// Its own browser and meeting; Firefox's start-up under a loaded CPU: one reported retry, like the other Firefox scenarios.
scenario(
  'pre-call check in the lobby (Firefox): the same check passes against the local coturn',
  async (c) => {
    const m = await c.bookings.book({ title: 'Connection check in Firefox' });
    c.firefox ??= await launchFirefox();
    const page = await openFirefoxPage(c.firefox, meetingUrl(c, m, 'student'));
    try {
      await eventually(
        'join enabled',
        async () => page.evaluate(() => !((document.querySelector('[data-testid="lobby-join"]') as HTMLButtonElement | null)?.disabled ?? true), undefined),
        20_000,
      );
      const seen = await runPrecallCheck(page);
      expectRows(seen, precallLocal);
      await page.evaluate(() => document.querySelector('[data-testid="precall"]')?.scrollIntoView(), undefined);
      await page.screenshot(join(screenshots, 'precall-firefox.png'));
      console.log(`    pre-call check (Firefox): ${precallFigures(seen)}; ${seen.verdict.join(' ')}`);
    } finally {
      await page.close().catch(() => {});
    }
  },
  1,
);

// ── The call ──────────────────────────────────────────────────────────────

/** What one side shows of itself and of the other: the states the issue-13 bug got wrong. */
async function showsOwnMediaOn(p: Participant) {
  await p.page.locator('[data-testid="control-mic"][aria-pressed="false"]').waitFor({ timeout: 10_000 });
  await p.page.locator('[data-testid="control-camera"][aria-pressed="false"]').waitFor({ timeout: 10_000 });
  if (await p.page.getByTestId('self-badge-muted').count()) throw new Error(`${p.name} shows their own microphone as muted`);
}

async function showsRemoteMediaOn(p: Participant) {
  const tile = p.page.locator('[data-testid="tile-remote"][data-muted="false"][data-camera-off="false"]');
  await tile.waitFor({ timeout: 10_000 });
  for (const badge of ['badge-muted', 'badge-camera-off']) {
    if (await p.page.getByTestId('tile-remote').getByTestId(badge).count()) throw new Error(`${p.name} shows the other side with ${badge}`);
  }
}

scenario('both click Join the instant it is enabled, camera slow to start: everyone is shown as they are (issue 13)', async (c) => {
  const m = await c.bookings.book({ title: 'Join at once' });
  const tutor = await openParticipant(c.browser, 'tutor-at-once', meetingUrl(c, m, 'tutor'), undefined, holdMedia);
  const student = await openParticipant(c.browser, 'student-at-once', meetingUrl(c, m, 'student'), undefined, holdMedia);
  c.others.push(tutor, student);
  for (const p of [tutor, student]) {
    // The lesson has loaded, the devices have not answered: Join must wait for them.
    await p.page.getByTestId('lobby-title').filter({ hasText: 'Join at once' }).waitFor();
    const join = p.page.getByTestId('lobby-join');
    await eventually('join waits for the devices', async () => (await join.isDisabled()) && (await join.textContent()) === 'Starting camera and microphone…');
  }
  await shot(tutor.page, 'lobby-starting-devices');
  for (const p of [tutor, student]) await releaseMedia(p.page);
  // click() acts the moment the button is enabled: the earliest a person could press it.
  await Promise.all([tutor.page.getByTestId('lobby-join').click(), student.page.getByTestId('lobby-join').click()]);
  await bothSeeVideo(tutor.page, student.page);
  for (const p of [tutor, student]) {
    await showsOwnMediaOn(p);
    await showsRemoteMediaOn(p);
  }
  await shot(student.page, 'join-at-once');
  // Closed only on success: a failure leaves both pages for the diagnostics.
  c.others = c.others.filter((p) => p !== tutor && p !== student);
  for (const p of [tutor, student]) await p.context.close();
});

/** The gateway's count of relayed Chromium joins that reached media (the browsers' join reports). */
async function joinReports(c: Ctx): Promise<number> {
  const text = await (await fetch(c.stack.env.GATEWAY_METRICS_URL)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('gateway_client_join_to_media_seconds_count{') && l.includes('relayed="true"') && l.includes('browser="chromium"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

scenario('tutor and student join and both see the other’s video, relayed by coturn', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  c.joinReportsBefore = await joinReports(c);
  await tutor.page.getByTestId('lobby-join').click();
  await tutor.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
  await tutor.page.getByTestId('waiting').waitFor();
  const student = await openParticipant(c.browser, 'student', meetingUrl(c, c.main, 'student'));
  c.student = student;
  await eventually('student can join', async () => student.page.getByTestId('lobby-join').isEnabled());
  await student.page.getByTestId('lobby-join').click();
  await student.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
  // The app took the passcode out of the address bar (history), having kept it for a reload.
  for (const p of [tutor, student]) if (p.page.url().includes(c.main.passcode)) throw new Error(`${p.name}: the passcode is still in ${p.page.url()}`);
  await bothSeeVideo(tutor.page, student.page);
  for (const p of [tutor, student]) {
    const types = Object.values(await candidateTypes(p.page));
    if (types.length !== 1 || types[0] !== 'relay') throw new Error(`${p.name}: expected one relayed connection, got ${JSON.stringify(types)}`);
  }
  await eventually('quality shows relay', async () => (await tutor.page.getByTestId('tile-quality').getAttribute('data-route')) === 'relay');
  const names = await tutor.page.getByTestId('tile-remote').getAttribute('data-name');
  if (names !== 'Demo Student') throw new Error(`tutor sees ${names}`);
  // The role beside the name comes from userType, not from whatever the name says.
  const role = await tutor.page.getByTestId('tile-remote').getByTestId('tile-role').textContent();
  if (role !== 'Student') throw new Error(`tutor sees the role ${role}`);
  await shot(tutor.page, 'call-two-people');
});

scenario('both browsers tell the gateway how long their join took to show the other (the join-to-media service level)', async (c) => {
  const before = c.joinReportsBefore ?? 0;
  await eventually('two relayed join reports counted', async () => (await joinReports(c)) >= before + 2);
});

scenario('participant list shows both, with live mute state', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  await tutor.page.getByTestId('control-participants').click();
  const panel = tutor.page.getByTestId('participants-panel');
  await panel.waitFor();
  await eventually('two rows', async () => (await panel.getByTestId('participant-row').count()) === 2);
  await panel.locator('[data-testid="participant-row"][data-name="Demo Student"]').waitFor();
  await shot(tutor.page, 'participant-list');
});

scenario('the student mutes: the tutor sees it, in the tile and the list', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  const student = need(c.student, 'student');
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="true"] [data-testid="badge-muted"]').waitFor({ timeout: 10_000 });
  await tutor.page.locator('[data-testid="participant-row"][data-name="Demo Student"][data-muted="true"]').waitFor({ timeout: 10_000 });
  // Unmuting with the keyboard: Tab reaches the control, Space presses it.
  await student.page.locator('body').click({ position: { x: 5, y: 200 } });
  await eventually('Tab reaches the microphone button', async () => {
    await student.page.keyboard.press('Tab');
    return student.page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'control-mic');
  });
  const label = await student.page.getByTestId('control-mic').getAttribute('aria-label');
  if (label !== 'Unmute microphone') throw new Error(`the focused button says ${label}`);
  await student.page.keyboard.press('Space');
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="false"]').waitFor({ timeout: 10_000 });
});

scenario('the tutor mutes the student', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  const student = need(c.student, 'student');
  await tutor.page.getByTestId('participant-mute').click();
  await student.page.locator('[data-testid="control-mic"][aria-pressed="true"]').waitFor({ timeout: 10_000 });
  await student.page.getByTestId('notice').filter({ hasText: 'The tutor muted your microphone' }).waitFor({ timeout: 5_000 });
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="true"]').waitFor({ timeout: 10_000 });
  // Only the student can turn it back on.
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="false"]').waitFor({ timeout: 10_000 });
  await tutor.page.getByTestId('control-participants').click();
});

scenario('the tutor shares the screen: the student sees it, then the camera again', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  const student = need(c.student, 'student');
  const connection = async () => {
    const all = Object.values(await tutor.page.evaluate(() => window.__lessoncall?.connections() ?? {}));
    if (all.length !== 1 || !all[0]) throw new Error(`tutor has ${all.length} connections`);
    return { ...all[0], video: all[0].senders.find((s) => s.kind === 'video')?.label ?? '' };
  };
  const before = await connection();
  const beforeVideo = (await remoteVideos(student.page))[0];
  await tutor.page.getByTestId('control-share').click();
  await tutor.page.locator('[data-testid="control-share"][aria-pressed="true"]').waitFor({ timeout: 10_000 });
  await student.page.locator('[data-testid="tile-remote"][data-screen="true"] [data-testid="badge-screen"]').waitFor({ timeout: 10_000 });
  // The tutor now sends the screen on the same sender, without a new offer/answer.
  const sharing = await connection();
  if (!/screen/i.test(sharing.video) || sharing.video === before.video) throw new Error(`video sender sends ${sharing.video}`);
  if (sharing.localSdp !== before.localSdp || sharing.transceivers !== before.transceivers) throw new Error('screen share renegotiated');
  // The fake screen is 1280×720 at 15 fps, sent as "detail": the student's video changes size and keeps playing.
  await eventually('remote video shows the screen', async () => {
    const v = (await remoteVideos(student.page))[0];
    return v?.playing && (v.width !== beforeVideo?.width || v.height !== beforeVideo?.height);
  });
  await framesAdvance(student.page, 'while sharing');
  await shot(student.page, 'screen-share');
  await tutor.page.getByTestId('control-share').click();
  await student.page.locator('[data-testid="tile-remote"][data-screen="false"]').waitFor({ timeout: 10_000 });
  const after = await eventually('the camera is sent again', async () => {
    const now = await connection();
    return now.video === before.video ? now : undefined;
  });
  if (after.localSdp !== before.localSdp) throw new Error('stopping the share renegotiated');
  await framesAdvance(student.page, 'camera again');
});

scenario('in the call: the device panel switches camera, microphone and speaker, and a share mixes its sound, without renegotiating', async (c) => {
  const m = await c.bookings.book({ title: 'Devices in the call' });
  const tutor = await openParticipant(c.browser, 'tutor-devices', meetingUrl(c, m, 'tutor'));
  const student = await openParticipant(c.browser, 'student-devices', meetingUrl(c, m, 'student'));
  c.others.push(tutor, student);
  for (const p of [tutor, student]) {
    await eventually('join enabled', async () => p.page.getByTestId('lobby-join').isEnabled());
    await p.page.getByTestId('lobby-join').click();
  }
  await bothSeeVideo(tutor.page, student.page);
  const page = student.page;
  const connection = async () => {
    const all = Object.values(await page.evaluate(() => window.__lessoncall?.connections() ?? {}));
    if (all.length !== 1 || !all[0]) throw new Error(`student has ${all.length} connections`);
    const sender = (kind: string) => all[0]?.senders.find((s) => s.kind === kind);
    return { sdp: all[0].localSdp, transceivers: all[0].transceivers, video: sender('video'), audio: sender('audio') };
  };
  const before = await connection();
  await page.getByTestId('control-devices').click();
  const panel = page.getByTestId('device-panel');
  await panel.waitFor();
  const options = (id: string) =>
    page
      .getByTestId(id)
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  const cameras = await options('call-camera-select');
  const mics = await options('call-mic-select');
  const speakers = (await page.getByTestId('call-speaker-select').count()) ? await options('call-speaker-select') : [];
  console.log(`    Chromium's fake devices: ${cameras.length} camera(s), ${mics.length} microphone(s), ${speakers.length} speaker choice(s)`);
  // One fake camera: picking it again still opens it anew (a new track), which is the path a second camera takes.
  const current = await page.getByTestId('call-camera-select').inputValue();
  await page.getByTestId('call-camera-select').selectOption(cameras.find((id) => id !== current) ?? current);
  const camera = await eventually('the new camera track is sent', async () => {
    const now = await connection();
    return now.video?.id && now.video.id !== before.video?.id ? now : undefined;
  });
  if (camera.sdp !== before.sdp || camera.transceivers !== before.transceivers) throw new Error('switching the camera renegotiated');
  const micNow = await page.getByTestId('call-mic-select').inputValue();
  const mic = mics.find((id) => id !== micNow);
  if (!mic) throw new Error(`only one microphone listed: ${JSON.stringify(mics)}`);
  await page.getByTestId('call-mic-select').selectOption(mic);
  const switched = await eventually('the new microphone track is sent', async () => {
    const now = await connection();
    return now.audio?.id && now.audio.id !== before.audio?.id ? now : undefined;
  });
  if (switched.sdp !== before.sdp || switched.transceivers !== before.transceivers) throw new Error('switching the microphone renegotiated');
  await framesAdvance(tutor.page, 'after the switch');
  await showsRemoteMediaOn(tutor);
  const speaker = speakers.find((id) => id !== '');
  if (speaker) {
    await page.getByTestId('call-speaker-select').selectOption(speaker);
    await eventually('remote audio plays on the chosen speaker', async () =>
      page.getByTestId('remote-video').evaluate((v, id) => (v as HTMLVideoElement & { sinkId?: string }).sinkId === id, speaker),
    );
  }
  await shot(page, 'call-devices');
  // Screen share with sound: Chromium's fake capture may or may not give the tab's audio; say which.
  const micSent = await connection();
  await page.getByTestId('control-devices').click();
  await page.getByTestId('control-share').click();
  await page.locator('[data-testid="control-share"][aria-pressed="true"]').waitFor({ timeout: 10_000 });
  await eventually('the screen is sent', async () => /screen/i.test((await connection()).video?.label ?? ''));
  const sharing = await connection();
  if (sharing.sdp !== before.sdp) throw new Error('the share renegotiated');
  const hasSound = await page.evaluate(() => window.__lessoncall?.snapshot().local.screenAudio ?? false);
  if (hasSound) {
    if (sharing.audio?.id === micSent.audio?.id) throw new Error('the share has sound but the microphone alone is sent');
  } else if (sharing.audio?.id !== micSent.audio?.id) {
    throw new Error('no sound in the share, yet the audio sender changed');
  }
  console.log(`    fake screen capture with audio: ${hasSound ? 'yes, mixed with the microphone' : 'no audio track (the mix is not exercised here)'}`);
  await page.getByTestId('control-share').click();
  await eventually('the microphone alone is sent again', async () => (await connection()).audio?.id === micSent.audio?.id);
  await framesAdvance(tutor.page, 'after the share');
  c.others = c.others.filter((p) => p !== tutor && p !== student);
  for (const p of [tutor, student]) await p.context.close();
});

scenario('at phone width the call fits the screen and every control is reachable', async (c) => {
  const student = need(c.student, 'student');
  const page = student.page;
  const size = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await page.waitForTimeout(300);
    for (const id of [
      'control-mic',
      'control-camera',
      'control-share',
      'control-participants',
      'control-chat',
      'control-devices',
      'control-leave',
      'tile-remote',
      'tile-self',
    ]) {
      const box = await page.getByTestId(id).boundingBox();
      if (!box || box.x < 0 || box.y < 0 || box.x + box.width > 390 || box.y + box.height > 844)
        throw new Error(`${id} is outside the screen: ${JSON.stringify(box)}`);
    }
    const scrolls = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    if (scrolls) throw new Error('the page scrolls sideways at phone width');
    await shot(page, 'call-phone');
  } finally {
    await page.setViewportSize(size);
  }
});

scenario('the student’s socket drops and resumes while the video keeps playing', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  const student = need(c.student, 'student');
  const sessionBefore = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  // Record the banner even if the resume is quicker than a poll.
  await student.page.evaluate(() => {
    const w = window as unknown as { __sawBanner: boolean };
    w.__sawBanner = false;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="reconnecting-banner"]')) w.__sawBanner = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
  const framesBefore = { tutor: await framesDecoded(tutor.page), student: await framesDecoded(student.page) };
  await student.page.evaluate(() => window.__lessoncall?.dropSignaling());
  await eventually('banner seen', async () => student.page.evaluate(() => (window as unknown as { __sawBanner: boolean }).__sawBanner), 5_000, 20);
  await eventually('back in the call', async () => (await student.page.getByTestId('call-room').getAttribute('data-phase')) === 'in-call', 15_000);
  const sessionAfter = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  if (sessionAfter !== sessionBefore) throw new Error(`session changed: ${sessionBefore} → ${sessionAfter} (not resumed)`);
  await student.page.getByTestId('reconnecting-banner').waitFor({ state: 'detached' });
  // Same peer connection, frames kept coming on both sides.
  for (const [name, p, before] of [
    ['tutor', tutor.page, framesBefore.tutor],
    ['student', student.page, framesBefore.student],
  ] as const) {
    await eventually(`${name}: frames kept coming on the same connection`, async () => {
      const now = await framesDecoded(p);
      const ids = Object.keys(before);
      return ids.length === 1 && Object.keys(now).join() === ids.join() && (now[ids[0] as string] ?? 0) > (before[ids[0] as string] ?? 0) + 10;
    });
  }
  if ((await tutor.page.getByTestId('tile-remote').count()) !== 1) throw new Error('the tutor lost the student tile');
  // Signaling works after the resume: a mute still reaches the other side.
  await student.page.getByTestId('control-camera').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-camera-off="true"]').waitFor({ timeout: 10_000 });
  await student.page.getByTestId('control-camera').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-camera-off="false"]').waitFor({ timeout: 10_000 });
  await bothSeeVideo(tutor.page, student.page);
});

scenario('the student’s network goes silent: the call notices without a close, says so, and resumes', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  const student = need(c.student, 'student');
  const sessionBefore = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  // DevTools "offline": the socket stays open but nothing passes (a half-open connection, as
  // behind a dead NAT); only the missing pongs can tell. WebRTC is not affected by the emulation.
  await student.context.setOffline(true);
  try {
    await student.page.getByTestId('reconnecting-banner').waitFor({ timeout: 20_000 });
    await shot(student.page, 'reconnecting');
    await framesAdvance(tutor.page, 'tutor, while the student is offline');
    await framesAdvance(student.page, 'student, while offline');
  } finally {
    await student.context.setOffline(false);
  }
  await student.page.getByTestId('reconnecting-banner').waitFor({ state: 'detached', timeout: 20_000 });
  const sessionAfter = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  if (sessionAfter !== sessionBefore) throw new Error(`session changed: ${sessionBefore} → ${sessionAfter} (not resumed)`);
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="true"]').waitFor({ timeout: 10_000 });
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="false"]').waitFor({ timeout: 10_000 });
  if ((await tutor.page.getByTestId('tile-remote').count()) !== 1) throw new Error('the tutor lost the student tile');
});

scenario('the student leaves: the tutor sees it', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  const student = need(c.student, 'student');
  await student.page.getByTestId('control-leave').click();
  await student.page.locator('[data-testid="ended-screen"][data-reason="left"]').waitFor({ timeout: 10_000 });
  await tutor.page.getByTestId('tile-remote').waitFor({ state: 'detached', timeout: 10_000 });
  await tutor.page.getByTestId('notice').filter({ hasText: 'Demo Student left the lesson' }).waitFor({ timeout: 5_000 });
  await tutor.page.getByTestId('waiting').waitFor();
});

scenario('the student rejoins, the tutor ends the lesson: both see why', async (c) => {
  const tutor = need(c.tutor, 'tutor');
  const student = need(c.student, 'student');
  await student.page.getByTestId('rejoin-button').click();
  await eventually('student can join', async () => student.page.getByTestId('lobby-join').isEnabled());
  await student.page.getByTestId('lobby-join').click();
  await bothSeeVideo(tutor.page, student.page);
  await tutor.page.getByTestId('control-end').click();
  for (const p of [tutor, student]) {
    const ended = p.page.locator('[data-testid="ended-screen"][data-reason="ended"]');
    await ended.waitFor({ timeout: 10_000 });
    const text = (await ended.textContent()) ?? '';
    if (!/tutor ended the lesson/i.test(text)) throw new Error(`${p.name} sees: ${text}`);
  }
  await shot(student.page, 'ended');
});

/** A participant in a context of their own, in the call of `m` (the scenarios that run alone). */
async function joinLesson(c: Ctx, m: TestMeeting, as: 'tutor' | 'student', prefix: string): Promise<Participant> {
  const p = await openParticipant(c.browser, `${prefix}-${as}`, meetingUrl(c, m, as));
  c.others.push(p);
  await eventually(`${as} can join`, async () => p.page.getByTestId('lobby-join').isEnabled());
  await p.page.getByTestId('lobby-join').click();
  await p.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
  return p;
}

/** Reloads a participant's page and gets them back into the call (straight in, or through the lobby). */
async function reloadIntoCall(p: Participant): Promise<void> {
  await p.page.reload();
  await eventually(`${p.name} back`, async () => (await p.page.getByTestId('call-room').isVisible()) || p.page.getByTestId('lobby-join').isEnabled());
  if (!(await p.page.getByTestId('call-room').isVisible())) await p.page.getByTestId('lobby-join').click();
  await p.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
}

// ── Chat ──────────────────────────────────────────────────────────────────

/** Its own lesson and browser contexts, so `E2E_ONLY=chat` runs it alone. */
scenario('chat: tutor and student chat (plain text, safe links, unread badge, keyboard), the student reloads and sees the history', async (c) => {
  const m = await c.bookings.book({ title: 'Chat lesson' });
  const tutor = await joinLesson(c, m, 'tutor', 'chat');
  const student = await joinLesson(c, m, 'student', 'chat');

  await tutor.page.getByTestId('control-chat').click();
  const input = tutor.page.getByTestId('chat-input');
  await input.waitFor();
  // The box has the focus when the panel opens; Enter sends.
  await tutor.page.keyboard.type('Read <b>chapter 3</b> at https://example.org/algebra. Also javascript:alert(1)');
  await tutor.page.keyboard.press('Enter');
  await tutor.page.locator('[data-testid="chat-message"][data-mine="true"][data-status="sent"]').waitFor({ timeout: 10_000 });

  // The student has the panel closed: a badge counts the message.
  await eventually('unread badge', async () => (await student.page.getByTestId('chat-unread').textContent()) === '1');
  await shot(student.page, 'chat-unread');
  await student.page.getByTestId('control-chat').focus();
  await student.page.keyboard.press('Enter');
  const got = student.page.locator('[data-testid="chat-message"][data-mine="false"]');
  await got.waitFor();
  if ((await got.locator('b').count()) !== 0) throw new Error('markup in a chat message was rendered as HTML');
  if (!((await got.textContent()) ?? '').includes('<b>chapter 3</b>')) throw new Error('the message text is not shown as typed');
  const links = got.locator('a');
  if ((await links.count()) !== 1) throw new Error(`expected one link, got ${await links.count()}`);
  const a = links.first();
  if ((await a.getAttribute('href')) !== 'https://example.org/algebra') throw new Error(`link href ${await a.getAttribute('href')}`);
  if ((await a.getAttribute('rel')) !== 'noopener noreferrer') throw new Error(`link rel ${await a.getAttribute('rel')}`);
  if (await student.page.getByTestId('chat-unread').isVisible()) throw new Error('the badge stays after opening the chat');
  await student.page.getByTestId('chat-input').fill('Thanks, on it!');
  await student.page.keyboard.press('Enter');
  await tutor.page.locator('[data-testid="chat-message"][data-mine="false"]').filter({ hasText: 'Thanks, on it!' }).waitFor({ timeout: 10_000 });
  await shot(tutor.page, 'chat-tutor');
  // Esc closes the panel.
  await student.page.getByTestId('chat-input').focus();
  await student.page.keyboard.press('Escape');
  await student.page.getByTestId('chat-panel').waitFor({ state: 'detached' });

  // The student reloads: back in the call, the transcript is there.
  await reloadIntoCall(student);
  await student.page.getByTestId('control-chat').click();
  await eventually('history after reload', async () => (await student.page.getByTestId('chat-message').count()) === 2);
  const texts = await student.page.getByTestId('chat-message').allTextContents();
  if (!texts[0]?.includes('chapter 3') || !texts[1]?.includes('Thanks, on it!')) throw new Error(`history after reload: ${JSON.stringify(texts)}`);
  await shot(student.page, 'chat-after-reload');
  for (const p of [tutor, student]) await p.page.context().close();
  c.others = c.others.filter((p) => p !== tutor && p !== student);
});

// ── Whiteboard ────────────────────────────────────────────────────────────

/** Drags one shape on a participant's board with the given Excalidraw tool; `at` is a share of the canvas, right of the style panel (x ≥ 0.3). */
async function drawShape(page: Page, tool: 'rectangle' | 'ellipse' | 'diamond', at: { x: number; y: number }) {
  // The tool's radio input is hidden behind its icon: click the label people see.
  await page.locator(`label:has([data-testid="toolbar-${tool}"])`).click();
  const box = await page.getByTestId('board-canvas').boundingBox();
  if (!box) throw new Error('the board has no size');
  const x = box.x + box.width * at.x;
  const y = box.y + box.height * at.y;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 8; i++) await page.mouse.move(x + i * 12, y + i * 8);
  await page.mouse.up();
}

const boardElements = async (page: Page) => Number((await page.getByTestId('board-panel').getAttribute('data-elements')) ?? -1);

/** Its own lesson and browser contexts, so `E2E_ONLY=whiteboard` runs it alone. */
scenario('whiteboard: tutor and student draw at once and converge, the tutor locks it, the student reloads and sees it, the record shows it', async (c) => {
  const m = await c.bookings.book({ title: 'Whiteboard lesson' });
  const tutor = await joinLesson(c, m, 'tutor', 'board');
  const student = await joinLesson(c, m, 'student', 'board');

  // The tutor opens the board and draws; the student, board closed, is told something was drawn.
  await tutor.page.getByTestId('control-board').click();
  await tutor.page.getByTestId('board-canvas').waitFor({ timeout: 30_000 });
  await drawShape(tutor.page, 'rectangle', { x: 0.35, y: 0.3 });
  await eventually('the tutor sees the rectangle', async () => (await boardElements(tutor.page)) === 1);
  await student.page.getByTestId('board-activity').waitFor({ timeout: 10_000 });
  await student.page.getByTestId('control-board').click();
  await student.page.getByTestId('board-canvas').waitFor({ timeout: 30_000 });
  await eventually('the student gets the tutor’s rectangle', async () => (await boardElements(student.page)) === 1);

  // Both draw at the same moment: each board ends with both shapes.
  await Promise.all([drawShape(tutor.page, 'ellipse', { x: 0.6, y: 0.35 }), drawShape(student.page, 'diamond', { x: 0.4, y: 0.65 })]);
  for (const p of [tutor, student]) await eventually(`${p.name} converges on 3 shapes`, async () => (await boardElements(p.page)) === 3);
  await shot(tutor.page, 'board-tutor');
  await shot(student.page, 'board-student');

  // Locked: the student is told, and the editor no longer draws for them.
  await tutor.page.getByTestId('board-lock').click();
  await student.page.getByTestId('board-locked').waitFor({ timeout: 10_000 });
  if ((await student.page.getByTestId('toolbar-rectangle').count()) !== 0) throw new Error('a locked board still offers the student its drawing tools');
  await shot(student.page, 'board-locked');
  await tutor.page.getByTestId('board-lock').click();
  await student.page.getByTestId('board-locked').waitFor({ state: 'detached', timeout: 10_000 });

  // The student reloads: back in the call, the board is as it was.
  await reloadIntoCall(student);
  await student.page.getByTestId('control-board').click();
  await student.page.getByTestId('board-canvas').waitFor({ timeout: 30_000 });
  await eventually('the board after a reload', async () => (await boardElements(student.page)) === 3);
  await shot(student.page, 'board-after-reload');

  // The tutor ends the lesson: both end screens show the final board as an image.
  await tutor.page.getByTestId('control-end').click();
  for (const p of [tutor, student]) {
    await p.page.locator('[data-testid="ended-screen"][data-reason="ended"]').waitFor({ timeout: 10_000 });
    const img = p.page.getByTestId('record-board');
    await img.waitFor({ timeout: 20_000 });
    const alt = (await img.getAttribute('alt')) ?? '';
    if (!alt.includes('3 drawn')) throw new Error(`${p.name}'s record shows the board as "${alt}"`);
    if (!(await img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0)))
      throw new Error(`${p.name}'s record board image does not render`);
  }
  await shot(student.page, 'board-record');
  for (const p of [tutor, student]) await p.page.context().close();
  c.others = c.others.filter((p) => p !== tutor && p !== student);
});

// ── Tutor controls ────────────────────────────────────────────────────────

/** Its own lesson and browser contexts, so `E2E_ONLY='tutor controls'` runs it alone. */
scenario('tutor controls: ask to unmute (the student unmutes), camera off, remove (the student sees why) and allow back', async (c) => {
  const m = await c.bookings.book({ title: 'Tutor controls lesson' });
  const join = async (p: Participant) => {
    await eventually(`${p.name} can join`, async () => p.page.getByTestId('lobby-join').isEnabled());
    await p.page.getByTestId('lobby-join').click();
    await p.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
  };
  const open = async (as: 'tutor' | 'student') => {
    const p = await openParticipant(c.browser, `controls-${as}`, meetingUrl(c, m, as));
    c.others.push(p);
    return p;
  };
  const tutor = await open('tutor');
  const student = await open('student');
  await join(tutor);
  await join(student);
  await bothSeeVideo(tutor.page, student.page);
  const row = tutor.page.locator('[data-testid="participant-row"][data-name="Demo Student"]');
  const tile = tutor.page.getByTestId('tile-remote');

  // Ask to unmute: the student is muted; the tutor asks; a prompt, not an unmute.
  await student.page.getByTestId('control-mic').click();
  await tutor.page.getByTestId('control-participants').click();
  await row.and(tutor.page.locator('[data-muted="true"]')).waitFor({ timeout: 10_000 });
  await shot(tutor.page, 'tutor-controls-panel');
  // Keyboard: the button is reachable and Enter presses it.
  await row.getByTestId('participant-ask-unmute').focus();
  await tutor.page.keyboard.press('Enter');
  // The tutor's notice first: it shows for a few seconds only.
  await tutor.page.getByTestId('notice').filter({ hasText: 'Asked Demo Student to unmute' }).waitFor({ timeout: 10_000 });
  const prompt = student.page.getByTestId('unmute-prompt');
  await prompt.waitFor({ timeout: 10_000 });
  if (!((await prompt.textContent()) ?? '').includes('The tutor asks you to unmute')) throw new Error(`the prompt says ${await prompt.textContent()}`);
  if ((await student.page.getByTestId('control-mic').getAttribute('aria-pressed')) !== 'true') throw new Error('the ask unmuted the student by itself');
  await shot(student.page, 'tutor-ask-unmute');
  // The Unmute button has the focus: Enter answers.
  const focused = await student.page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  if (focused !== 'unmute-accept') throw new Error(`the prompt's Unmute button is not focused (${focused})`);
  await student.page.keyboard.press('Enter');
  await prompt.waitFor({ state: 'detached' });
  await student.page.locator('[data-testid="control-mic"][aria-pressed="false"]').waitFor({ timeout: 10_000 });
  await row.and(tutor.page.locator('[data-muted="false"]')).waitFor({ timeout: 10_000 });
  await tile.and(tutor.page.locator('[data-muted="false"]')).waitFor({ timeout: 10_000 });

  // Camera off: the student's camera stops; both sides show it; the student may turn it on again.
  await row.getByTestId('participant-camera-off').click();
  await student.page.getByTestId('camera-off-by-tutor').waitFor({ timeout: 10_000 });
  await student.page.locator('[data-testid="control-camera"][aria-pressed="true"]').waitFor();
  await tile.and(tutor.page.locator('[data-camera-off="true"]')).waitFor({ timeout: 10_000 });
  // Nothing on the student's video sender any more (replaceTrack(null)): no video leaves the browser.
  await eventually('the student stops sending video', async () => {
    const conns = await student.page.evaluate(() => window.__lessoncall?.connections() ?? {});
    const senders = Object.values(conns).flatMap((x) => x.senders);
    return senders.length > 0 && !senders.some((x) => x.kind === 'video');
  });
  await shot(student.page, 'tutor-camera-off');
  await student.page.getByTestId('control-camera').click();
  await tile.and(tutor.page.locator('[data-camera-off="false"]')).waitFor({ timeout: 10_000 });
  await student.page.getByTestId('camera-off-by-tutor').waitFor({ state: 'detached' });

  // Remove: a confirmation first (keyboard: the confirm button has the focus), then the student is out and told why.
  await row.getByTestId('participant-remove').click();
  const confirm = tutor.page.getByTestId('remove-confirm');
  await confirm.waitFor();
  // At phone width the panel and its controls stay on screen.
  const size = tutor.page.viewportSize() ?? { width: 1280, height: 800 };
  await tutor.page.setViewportSize({ width: 390, height: 844 });
  try {
    await tutor.page.waitForTimeout(300);
    for (const id of ['remove-confirm-yes', 'remove-confirm-no']) {
      const box = await tutor.page.getByTestId(id).boundingBox();
      if (!box || box.x < 0 || box.y < 0 || box.x + box.width > 390 || box.y + box.height > 844) throw new Error(`${id} is off screen: ${JSON.stringify(box)}`);
    }
    if (await tutor.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)) throw new Error('the page scrolls sideways at phone width');
    await shot(tutor.page, 'tutor-remove-confirm-phone');
  } finally {
    await tutor.page.setViewportSize(size);
  }
  const active = await tutor.page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  if (active !== 'remove-confirm-yes') throw new Error(`the confirm button is not focused (${active})`);
  await tutor.page.keyboard.press('Enter');
  await tutor.page.getByTestId('notice').filter({ hasText: 'Demo Student was removed from the lesson' }).waitFor({ timeout: 10_000 });
  const failed = student.page.locator('[data-testid="failed-screen"][data-code="removed_from_meeting"]');
  await failed.waitFor({ timeout: 10_000 });
  if (!((await failed.textContent()) ?? '').includes('The tutor removed you from this lesson'))
    throw new Error(`the student sees: ${await failed.textContent()}`);
  await shot(student.page, 'tutor-removed');
  await tile.waitFor({ state: 'detached', timeout: 10_000 });
  await tutor.page.locator('[data-testid="removed-row"]').waitFor();

  // Back to the lobby and Join: refused, with the same words.
  await student.page.getByTestId('rejoin-button').click();
  await join(student).catch(() => {});
  const lobbyError = student.page.getByTestId('lobby-error');
  await lobbyError.waitFor({ timeout: 10_000 });
  if (!((await lobbyError.textContent()) ?? '').includes('The tutor removed you')) throw new Error(`the lobby says: ${await lobbyError.textContent()}`);

  // The tutor allows the student back: the next Join gets in.
  await shot(tutor.page, 'tutor-removed-list');
  await tutor.page.getByTestId('participant-allow').click();
  await tutor.page.getByTestId('removed-list').waitFor({ state: 'detached', timeout: 10_000 });
  await join(student);
  await bothSeeVideo(tutor.page, student.page);
  for (const p of [tutor, student]) await p.page.context().close();
  c.others = c.others.filter((p) => p !== tutor && p !== student);
});

// ── A bad network ─────────────────────────────────────────────────────────

scenario(
  'the student’s uplink turns bad: their video steps down, they are told, the call stays up, then it recovers',
  async (c) => {
    const turn = /turn:([\d.]+):(\d+)\?transport=udp/.exec(c.stack.env.TURN_URLS);
    if (!turn) throw new Error(`no UDP TURN URL in ${c.stack.env.TURN_URLS}`);
    const impair = await UdpImpairment.start({ host: turn[1] as string, port: Number(turn[2]) });
    const m = await c.bookings.book({ title: 'Bad network' });
    // The student reaches coturn only through the impairing relay: UDP, its port.
    const throughRelay = async (context: BrowserContext) => {
      await context.addInitScript((port) => {
        type Cfg = RTCConfiguration | undefined;
        const rewrite = (cfg: Cfg): Cfg =>
          cfg && {
            ...cfg,
            iceServers: (cfg.iceServers ?? [])
              .map((s) => ({
                ...s,
                urls: ([] as string[])
                  .concat(s.urls)
                  .filter((u) => /^turn:[^?]+\?transport=udp$/.test(u))
                  .map((u) => u.replace(/^turn:[^?]+/, `turn:127.0.0.1:${port}`)),
              }))
              .filter((s) => s.urls.length > 0),
          };
        const Native = window.RTCPeerConnection;
        const setConfiguration = Native.prototype.setConfiguration;
        Native.prototype.setConfiguration = function (cfg?: RTCConfiguration) {
          return setConfiguration.call(this, rewrite(cfg));
        };
        window.RTCPeerConnection = class extends Native {
          constructor(cfg?: RTCConfiguration) {
            super(rewrite(cfg));
          }
        };
      }, impair.port);
    };
    const tutor = await openParticipant(c.browser, 'tutor-bad-network', meetingUrl(c, m, 'tutor'));
    const student = await openParticipant(c.browser, 'student-bad-network', meetingUrl(c, m, 'student'), undefined, throughRelay);
    c.others.push(tutor, student);
    const bitrate = async () => Object.values(await student.page.evaluate(() => window.__lessoncall?.videoEncodings() ?? {}))[0]?.maxBitrate;
    try {
      for (const p of [tutor, student]) {
        await eventually('join enabled', async () => p.page.getByTestId('lobby-join').isEnabled(), 20_000);
        await p.page.getByTestId('lobby-join').click();
      }
      await bothSeeVideo(tutor.page, student.page);
      // On a busy machine the sender may step down at the start (a starved CPU looks like a bad
      // path) and climb back one step per 8 s: time for that, as for the recovery below (two CI
      // runs failed here at 15 s).
      await eventually('full quality to start with', async () => (await bitrate()) === 1_500_000, 60_000, 500);
      if (impair.counts.forwarded === 0) throw new Error('the student’s media does not go through the impairing relay');
      impair.set({ loss: 0.15, rateKbps: 250 });
      await eventually('the student’s sender lowered its bitrate', async () => ((await bitrate()) ?? Infinity) < 1_500_000, 30_000);
      await student.page.getByTestId('weak-connection').waitFor({ timeout: 30_000 });
      await shot(student.page, 'weak-connection');
      const lowest = await bitrate();
      // The call stayed up: the same connection, the tutor still decodes the student's video.
      await framesAdvance(tutor.page, 'tutor, while the student’s uplink is bad');
      if ((await student.page.getByTestId('call-room').getAttribute('data-phase')) !== 'in-call') throw new Error('the student left the call');
      impair.set({ loss: 0, rateKbps: undefined });
      await eventually('back to full quality', async () => (await bitrate()) === 1_500_000, 90_000, 500);
      await student.page.getByTestId('weak-connection').waitFor({ state: 'detached', timeout: 10_000 });
      await framesAdvance(tutor.page, 'after the recovery');
      console.log(
        `    bad network: maxBitrate 1500 → ${Math.round((lowest ?? 0) / 1000)} kbps → 1500; relay dropped ${impair.counts.dropped} of ${impair.counts.dropped + impair.counts.forwarded} packets`,
      );
    } finally {
      impair.close();
      await tutor.context.close().catch(() => {});
      await student.context.close().catch(() => {});
    }
  },
  1,
);

// ── Chromium ↔ Firefox ────────────────────────────────────────────────────

async function chromiumFirefox(c: Ctx, firefoxAs: 'tutor' | 'student') {
  const m = await c.bookings.book({ title: `Chromium and Firefox (${firefoxAs} in Firefox)` });
  c.firefox ??= await launchFirefox();
  const chromiumAs = firefoxAs === 'tutor' ? 'student' : 'tutor';
  const chromium = await openParticipant(c.browser, `chromium-${chromiumAs}`, meetingUrl(c, m, chromiumAs));
  c.others.push(chromium);
  const other = fromPlaywright(chromium.page, chromium.logs, () => chromium.context.close());
  let firefox: DrivenPage | undefined;
  try {
    firefox = await openFirefoxPage(c.firefox, meetingUrl(c, m, firefoxAs));
    await crossBrowserLesson({ tutor: firefoxAs === 'tutor' ? firefox : other, student: firefoxAs === 'tutor' ? other : firefox, screenshots });
  } catch (err) {
    if (firefox) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(join(resultsDir, `firefox-${firefoxAs}.log`), firefox.logs.join('\n'));
      await firefox.screenshot(join(resultsDir, `firefox-${firefoxAs}.png`)).catch(() => {});
    }
    throw err;
  } finally {
    await firefox?.close().catch(() => {});
    await chromium.context.close().catch(() => {});
  }
}

// Self-contained (their own meeting and browsers) and sensitive to a starved CPU (Firefox's decoder after an ICE restart): one reported retry.
scenario('Chromium tutor, Firefox student, through the relay: video, mute, screen share, socket resume, ICE restart', (c) => chromiumFirefox(c, 'student'), 1);
scenario('Firefox tutor, Chromium student, through the relay: video, mute, screen share, socket resume, ICE restart', (c) => chromiumFirefox(c, 'tutor'), 1);

// ── SFU ───────────────────────────────────────────────────────────────────

/**
 * Its own lesson and browser contexts, so `E2E_ONLY='recorded lesson'` runs it alone. A recorded
 * 1:1 lesson runs on the SFU: both browsers publish once to the Janus room and see each other
 * through it; after the end the recording is made, linked from the meeting, and plays.
 */
scenario('recorded lesson on the SFU: the lobby says so, both see each other through Janus, the recording plays with video and voice', async (c) => {
  const m = await c.bookings.book({ title: 'Recorded lesson', record: true });
  const open = async (as: 'tutor' | 'student') => {
    // Not forced through coturn: the local coturn relays from 127.0.0.1, which Janus (on the host's
    // address) cannot answer — Linux drops a reply from a non-loopback address to loopback. In a
    // cluster coturn and Janus have routable addresses and relaying works as for p2p calls.
    const p = await openParticipant(c.browser, `recorded-${as}`, meetingUrl(c, m, as).replace('?', '?debug&').replace('&relay=1', ''));
    c.others.push(p);
    await p.page.getByTestId('lobby-recorded').waitFor({ timeout: 15_000 });
    await eventually(`${as} can join`, async () => p.page.getByTestId('lobby-join').isEnabled());
    await p.page.getByTestId('lobby-join').click();
    await p.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
    return p;
  };
  const tutor = await open('tutor');
  const student = await open('student');
  await shot(tutor.page, 'sfu-lobby-recorded');
  try {
    await bothSeeVideo(tutor.page, student.page, 30);
  } catch (err) {
    // What the call logged (the sfu: lines) says why the room gave no media.
    mkdirSync(resultsDir, { recursive: true });
    for (const p of [tutor, student]) writeFileSync(join(resultsDir, `sfu-${p.name}.log`), p.logs.join('\n'));
    throw err;
  }
  await tutor.page.getByTestId('recording-badge').waitFor({ timeout: 5_000 });
  await shot(student.page, 'sfu-recorded-call');
  // A few more seconds of both on camera and microphone, then the tutor ends the lesson.
  await new Promise((r) => setTimeout(r, 3_000));
  await tutor.page.getByTestId('control-end').click();
  await tutor.page.locator('[data-testid="ended-screen"]').waitFor({ timeout: 10_000 });

  const base = c.stack.env.WEB_URL;
  const token = (await (
    await fetch(`${base}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ as: 'student' }) })
  ).json()) as {
    accessToken: string;
  };
  let location = '';
  await eventually(
    'the recording is ready',
    async () => {
      const res = await fetch(`${base}/api/video/meetings/${m.meetingId}/recording`, {
        headers: { authorization: `Bearer ${token.accessToken}` },
        redirect: 'manual',
      });
      location = res.headers.get('location') ?? '';
      return res.status === 302;
    },
    90_000,
  );
  const file = join(tmpdir(), `lessoncall-e2e-${m.meetingId}.webm`);
  const video = await fetch(new URL(location, base));
  if (video.status !== 200) throw new Error(`the signed recording link answered ${video.status}`);
  writeFileSync(file, Buffer.from(await video.arrayBuffer()));
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=duration', '-of', 'json', file], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) throw new Error(`ffprobe cannot read the recording: ${probe.stderr}`);
  const info = JSON.parse(probe.stdout) as { streams: { codec_type: string }[]; format: { duration: string } };
  const kinds = info.streams.map((x) => x.codec_type).sort();
  if (kinds.join(',') !== 'audio,video') throw new Error(`the recording has ${kinds.join(',')}`);
  if (Number(info.format.duration) < 3) throw new Error(`the recording lasts ${info.format.duration} s`);
  // Decoded from start to end (a muxer's note about timestamps on the null output is not a decoding error).
  const decode = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  const decodeErrors = decode.stderr.split('\n').filter((l) => l.trim() && !/non monotonically increasing dts|Last message repeated/.test(l));
  if (decode.status !== 0 || decodeErrors.length > 0) throw new Error(`the recording does not decode: ${decode.stderr}`);
});

/**
 * Its own lesson, browsers and Node students, so `E2E_ONLY='group lesson'` runs it alone. Like the
 * recorded lesson, not forced through coturn (Janus on the host's address cannot answer the local
 * coturn's loopback relay).
 */
scenario(
  'group lesson on the SFU: a Chromium tutor, a Firefox student and four Node students see and decode everyone',
  async (c) => {
    const url = (m: TestMeeting, as: 'tutor' | 'student') => meetingUrl(c, m, as).replace('?', '?debug&').replace('&relay=1', '');
    await groupLesson({
      env: c.stack.env,
      book: (otherStudents) => c.bookings.book({ title: 'Group lesson', otherStudents }),
      async open(m, as) {
        if (as === 'student') {
          c.firefox ??= await launchFirefox();
          return openFirefoxPage(c.firefox, url(m, as));
        }
        const p = await openParticipant(c.browser, 'group-tutor', url(m, as));
        return fromPlaywright(p.page, p.logs, () => p.context.close());
      },
      screenshots,
      results: resultsDir,
      log: console.log,
    });
  },
  1,
);

scenario('no Content-Security-Policy violations and no page errors along the way', async (c) => {
  const all = [c.tutor, c.student].filter((p): p is Participant => !!p);
  if (all.length < 2) throw new Error('the call scenarios did not run');
  for (const p of all) {
    const csp = await p.page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
    if (csp.length) throw new Error(`${p.name}: CSP violations ${JSON.stringify(csp)}`);
    const errors = p.logs.filter((l) => l.startsWith('[pageerror]'));
    if (errors.length) throw new Error(`${p.name}: page errors ${JSON.stringify(errors)}`);
  }
  const header = (await all[0]?.page.request.get('/'))?.headers()['content-security-policy'] ?? '';
  if (!header.includes("script-src 'self'")) throw new Error(`the app is served without a script CSP: ${header}`);
});

// ── Runner ────────────────────────────────────────────────────────────────

async function main() {
  const only = process.env.E2E_ONLY;
  if (!process.env.E2E_SKIP_BUILD) {
    console.log('building the web app…');
    const r = spawnSync('pnpm', ['exec', 'vite', 'build', '--mode', 'test', '--logLevel', 'warn'], { cwd: webDir, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('vite build failed');
  }
  let passed = 0;
  let failed = 0;
  const ctx: Partial<Ctx> & { others: Participant[] } = { others: [] };
  try {
    ctx.stack = await findOrStartStack();
    const stack = ctx.stack;
    ctx.bookings = await Bookings.connect(stack.env);
    ctx.main = await ctx.bookings.book({ title: 'Algebra with Demo Tutor' });
    ctx.browser = await launchChromium();
    for (const s of scenarios) {
      // E2E_ONLY: a part of the scenario's name, or several separated by |
      if (only && !only.split('|').some((part) => s.name.includes(part))) continue;
      const started = Date.now();
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            await s.run(ctx as Ctx);
            break;
          } catch (err) {
            if (attempt >= s.retries) throw err;
            console.log(`  ↻ ${s.name}: failed (${(err as Error).message.split('\n')[0]}), trying once more`);
          }
        }
        passed++;
        console.log(`  ✓ ${s.name} (${Date.now() - started} ms)`);
      } catch (err) {
        failed++;
        console.log(`  ✗ ${s.name} (${Date.now() - started} ms)\n      ${(err as Error).stack?.split('\n').slice(0, 4).join('\n      ')}`);
        const ps = [ctx.tutor, ctx.student, ...ctx.others].filter((p): p is Participant => !!p && !p.page.isClosed());
        await saveDiagnostics(resultsDir, s.name.slice(0, 40), ps);
      }
    }
  } catch (err) {
    failed++;
    console.log(`  ✗ setup: ${(err as Error).stack}`);
    if (ctx.stack?.logDir) console.log(`    service logs: ${ctx.stack.logDir} (set E2E_KEEP_STACK_DIR=1 to keep them)`);
  } finally {
    await ctx.browser?.close().catch(() => {});
    await ctx.firefox?.close().catch(() => {});
    await ctx.bookings?.close().catch(() => {});
    await ctx.stack?.stop();
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  if (process.env.TEST_COUNTS_FILE) writeFileSync(process.env.TEST_COUNTS_FILE, `passed=${passed} failed=${failed}\n`);
  process.exitCode = failed ? 1 : 0;
}

await main();
// Exit here rather than by running out of work: @roamhq/wrtc's native finalizers (the group
// lesson's Node students) abort the process in Node's environment teardown ("Check failed:
// node->IsInUse()"), which would turn a green run into exit code 133.
process.exit();
