/** What several browser tests do the same way: open the meeting's link, join, check video, save a screenshot. */
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { eventually, framesDecoded, type Participant, remoteVideos } from './browser';
import type { TestMeeting } from './meetings';
import type { StackEnv } from './stack';

/** Every run writes here (gitignored; global-setup.ts creates it); the README lists the names. */
export const screenshotsDir = resolve(import.meta.dirname, 'results/screenshots');

export const screenshotPath = (name: string) => join(screenshotsDir, `${name}.png`);

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: screenshotPath(name) });
}

/** The link as the meeting service writes it: the passcode in the fragment (join-to-frame.ts keeps the old `?pwd=`). */
export function meetingUrl(env: StackEnv, m: TestMeeting, as: 'tutor' | 'student', passcode = m.passcode) {
  return `${env.WEB_URL}/meet/${m.meetingId}?as=${as}&relay=1#pwd=${passcode}`;
}

/** The same link, with the call's debug log and without forcing coturn (the SFU scenarios: Janus cannot answer the local coturn's loopback relay). */
export function sfuMeetingUrl(env: StackEnv, m: TestMeeting, as: 'tutor' | 'student') {
  return meetingUrl(env, m, as).replace('?', '?debug&').replace('&relay=1', '');
}

/** Waits until Join is enabled, clicks it, and waits for the call room. */
export async function joinFromLobby(p: Participant) {
  await eventually(`${p.name} can join`, async () => p.page.getByTestId('lobby-join').isEnabled(), 20_000);
  await p.page.getByTestId('lobby-join').click();
  await p.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
}

/** Reloads a participant's page and gets them back into the call (straight in, or through the lobby). */
export async function reloadIntoCall(p: Participant): Promise<void> {
  await p.page.reload();
  await eventually(`${p.name} back`, async () => (await p.page.getByTestId('call-room').isVisible()) || p.page.getByTestId('lobby-join').isEnabled());
  if (!(await p.page.getByTestId('call-room').isVisible())) await p.page.getByTestId('lobby-join').click();
  await p.page.getByTestId('call-room').waitFor({ timeout: 15_000 });
}

/** Both ends decode video from the other, and the frames keep coming. */
export async function bothSeeVideo(a: Page, b: Page, minFrames = 1) {
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

export async function framesAdvance(page: Page, what: string) {
  const before = Object.values(await framesDecoded(page))[0] ?? 0;
  await eventually(`${what}: frames advance`, async () => (Object.values(await framesDecoded(page))[0] ?? 0) > before + 10, 10_000);
}

/** What one side shows of itself and of the other: the states the issue-13 bug got wrong. */
export async function showsOwnMediaOn(p: Participant) {
  await p.page.locator('[data-testid="control-mic"][aria-pressed="false"]').waitFor({ timeout: 10_000 });
  await p.page.locator('[data-testid="control-camera"][aria-pressed="false"]').waitFor({ timeout: 10_000 });
  if (await p.page.getByTestId('self-badge-muted').count()) throw new Error(`${p.name} shows their own microphone as muted`);
}

export async function showsRemoteMediaOn(p: Participant) {
  const tile = p.page.locator('[data-testid="tile-remote"][data-muted="false"][data-camera-off="false"]');
  await tile.waitFor({ timeout: 10_000 });
  for (const badge of ['badge-muted', 'badge-camera-off']) {
    if (await p.page.getByTestId('tile-remote').getByTestId(badge).count()) throw new Error(`${p.name} shows the other side with ${badge}`);
  }
}

/** Phone width (390×844) while `check` runs: each of `testIds` inside the screen, no sideways scroll; the old size after. */
export async function atPhoneWidth(page: Page, testIds: string[], check: () => Promise<void>) {
  const size = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await page.waitForTimeout(300);
    for (const id of testIds) {
      const box = await page.getByTestId(id).boundingBox();
      if (!box || box.x < 0 || box.y < 0 || box.x + box.width > 390 || box.y + box.height > 844)
        throw new Error(`${id} is outside the screen: ${JSON.stringify(box)}`);
    }
    if (await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)) throw new Error('the page scrolls sideways at phone width');
    await check();
  } finally {
    await page.setViewportSize(size);
  }
}

/**
 * Before the app loads: the TURN-over-UDP URLs the page is given point at 127.0.0.1:`port`
 * instead of coturn (TCP ones as they are); `udpOnly` drops every other URL, and rewrites what
 * setConfiguration sets too (the call's ICE restarts).
 */
export async function redirectTurnUdp(context: BrowserContext, port: number, udpOnly: boolean) {
  await context.addInitScript(
    ([port, udpOnly]) => {
      const udp = /^turn:[^?]+\?transport=udp$/;
      const rewrite = (cfg: RTCConfiguration | undefined): RTCConfiguration | undefined =>
        cfg && {
          ...cfg,
          iceServers: (cfg.iceServers ?? [])
            .map((s) => ({
              ...s,
              urls: ([] as string[])
                .concat(s.urls)
                .filter((u) => !udpOnly || udp.test(u))
                .map((u) => (udp.test(u) ? u.replace(/^turn:[^?]+/, `turn:127.0.0.1:${port}`) : u)),
            }))
            .filter((s) => s.urls.length > 0),
        };
      const Native = window.RTCPeerConnection;
      if (udpOnly) {
        const setConfiguration = Native.prototype.setConfiguration;
        Native.prototype.setConfiguration = function (cfg?: RTCConfiguration) {
          return setConfiguration.call(this, rewrite(cfg));
        };
      }
      window.RTCPeerConnection = class extends Native {
        constructor(cfg?: RTCConfiguration) {
          super(rewrite(cfg));
        }
      };
    },
    [port, udpOnly] as const,
  );
}

/** The gateway's count of relayed Chromium joins that reached media (the browsers' join reports). */
export async function joinReports(env: StackEnv): Promise<number> {
  const text = await (await fetch(env.GATEWAY_METRICS_URL)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('gateway_client_join_to_media_seconds_count{') && l.includes('relayed="true"') && l.includes('browser="chromium"'));
  return line ? Number(line.split(' ').pop()) : 0;
}
