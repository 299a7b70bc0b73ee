/**
 * A lesson between two browser engines (Chromium through Playwright, Firefox through
 * puppeteer-core), media through coturn only (`?relay=1`): join, video both ways, mute both
 * ways, screen share, the Firefox side's socket dropped and resumed, an ICE restart from the
 * Firefox side — asserting what each side shows and that frames are decoded throughout.
 */
import { join } from 'node:path';
import { eventually } from './browser';
import type { DrivenPage } from './firefox';

type Role = 'tutor' | 'student';

const exists = (p: DrivenPage, selector: string) => p.evaluate((s) => document.querySelector(s) !== null, selector);

export async function waitFor(p: DrivenPage, selector: string, timeoutMs = 15_000) {
  await eventually(`${p.browserName}: ${selector}`, () => exists(p, selector), timeoutMs, 100);
}

export async function waitGone(p: DrivenPage, selector: string, timeoutMs = 15_000) {
  await eventually(`${p.browserName}: no ${selector}`, async () => !(await exists(p, selector)), timeoutMs, 100);
}

const frames = (p: DrivenPage): Promise<Record<string, number>> =>
  p.evaluate(async () => (window.__lessoncall ? window.__lessoncall.framesDecoded() : {}), undefined);

/** The one remote peer's decoded frame count (the call has exactly two people). */
async function onlyPeerFrames(p: DrivenPage): Promise<number> {
  const all = Object.values(await frames(p));
  if (all.length !== 1) throw new Error(`${p.browserName} has ${all.length} peer connections`);
  return all[0] ?? 0;
}

async function framesAdvance(p: DrivenPage, what: string, by = 10) {
  const before = await onlyPeerFrames(p);
  await eventually(`${p.browserName} ${what}: frames advance`, async () => (await onlyPeerFrames(p)) > before + by, 15_000);
}

/** Decodes video from the other side and the <video> element plays it. */
async function seesVideo(p: DrivenPage) {
  await eventually(
    `${p.browserName}: remote video decoded and playing`,
    async () => {
      const decoded = await onlyPeerFrames(p).catch(() => 0);
      const playing = await p.evaluate(
        () => [...document.querySelectorAll<HTMLVideoElement>('[data-testid="remote-video"]')].some((v) => !v.paused && v.readyState >= 2 && v.videoWidth > 0),
        undefined,
      );
      return decoded > 0 && playing;
    },
    25_000,
  );
}

const relayOnly = (p: DrivenPage) =>
  eventually(`${p.browserName}: media relayed by coturn`, async () => {
    const types = Object.values(await p.evaluate(async () => (window.__lessoncall ? window.__lessoncall.candidateTypes() : {}), undefined));
    return types.length === 1 && types.every((t) => t === 'relay');
  });

const ufrag = (p: DrivenPage) =>
  p.evaluate(() => {
    const [c] = Object.values(window.__lessoncall?.connections() ?? {});
    return /a=ice-ufrag:(\S+)/.exec(c?.localSdp ?? '')?.[1];
  }, undefined);

const remoteTile = '[data-testid="tile-remote"]';

/** One side mutes and unmutes; the other sees it on the tile. */
async function muteSeenBy(muter: DrivenPage, watcher: DrivenPage) {
  await muter.click('control-mic');
  await waitFor(muter, '[data-testid="control-mic"][aria-pressed="true"]');
  await waitFor(watcher, `${remoteTile}[data-muted="true"] [data-testid="badge-muted"]`);
  await muter.click('control-mic');
  await waitFor(watcher, `${remoteTile}[data-muted="false"]`);
}

export interface CrossBrowserLesson {
  tutor: DrivenPage;
  student: DrivenPage;
  screenshots: string;
}

export async function crossBrowserLesson({ tutor, student, screenshots }: CrossBrowserLesson) {
  const firefox = tutor.browserName === 'firefox' ? tutor : student;
  const chromium = firefox === tutor ? student : tutor;
  const ffRole: Role = firefox === tutor ? 'tutor' : 'student';
  for (const p of [tutor, student]) await waitFor(p, '[data-testid="lobby-join"]:not([disabled])', 20_000);
  for (const p of [tutor, student]) await p.click('lobby-join');
  for (const p of [tutor, student]) {
    await waitFor(p, '[data-testid="call-room"][data-phase="in-call"]');
    // Both joined with camera and microphone on, and each shows the other so.
    await waitFor(p, `${remoteTile}[data-muted="false"][data-camera-off="false"]`, 20_000);
    await waitFor(p, '[data-testid="control-mic"][aria-pressed="false"]');
    await seesVideo(p);
    await relayOnly(p);
  }
  await waitFor(firefox, '[data-testid="tile-quality"][data-route="relay"]');
  await firefox.screenshot(join(screenshots, `firefox-${ffRole}.png`));

  await muteSeenBy(firefox, chromium);
  await muteSeenBy(chromium, firefox);

  // Chromium shares its screen (headless Firefox has no screen to capture: its getDisplayMedia
  // is refused, and the app treats that as a cancelled picker): on the same sender, without
  // renegotiation, and Firefox shows it.
  const sdp = () => chromium.evaluate(() => Object.values(window.__lessoncall?.connections() ?? {})[0]?.localSdp, undefined);
  const sdpBefore = await sdp();
  await chromium.click('control-share');
  await waitFor(chromium, '[data-testid="control-share"][aria-pressed="true"]');
  await waitFor(firefox, `${remoteTile}[data-screen="true"] [data-testid="badge-screen"]`);
  await framesAdvance(firefox, 'while Chromium shares');
  await firefox.screenshot(join(screenshots, `firefox-${ffRole}-screen-share.png`));
  if ((await sdp()) !== sdpBefore) throw new Error('screen share renegotiated');
  await chromium.click('control-share');
  await waitFor(firefox, `${remoteTile}[data-screen="false"]`);
  await framesAdvance(firefox, 'camera again');

  // Firefox's socket drops; it resumes the same session and media never stops.
  const session = await firefox.evaluate(() => window.__lessoncall?.snapshot().self.sessionId, undefined);
  await firefox.evaluate(() => window.__lessoncall?.dropSignaling(), undefined);
  await eventually('firefox resumed', async () => {
    const s = await firefox.evaluate(() => {
      const snap = window.__lessoncall?.snapshot();
      return { phase: snap?.call.phase, session: snap?.self.sessionId, banner: !!document.querySelector('[data-testid="reconnecting-banner"]') };
    }, undefined);
    return s.phase === 'in-call' && !s.banner && s.session === session;
  });
  await framesAdvance(firefox, 'after the resume');
  await framesAdvance(chromium, 'after Firefox resumed');
  // Signaling works after the resume.
  await muteSeenBy(firefox, chromium);

  // ICE restart from Firefox: new credentials, still relayed, frames keep coming both ways.
  const before = await ufrag(firefox);
  await firefox.evaluate(() => window.__lessoncall?.restartIce(), undefined);
  await eventually('firefox has new ICE credentials', async () => {
    const now = await ufrag(firefox);
    return now !== undefined && now !== before;
  });
  for (const p of [firefox, chromium]) {
    await framesAdvance(p, 'after the ICE restart');
    await relayOnly(p);
  }
  await waitFor(chromium, `${remoteTile}[data-muted="false"][data-camera-off="false"]`);

  for (const p of [firefox, chromium]) {
    const errors = p.logs.filter((l) => l.startsWith('[pageerror]'));
    if (errors.length) throw new Error(`${p.browserName}: page errors ${JSON.stringify(errors)}`);
  }
  await firefox.click('control-leave');
  await waitGone(chromium, remoteTile);
}
