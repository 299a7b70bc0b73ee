/** Debian's Chromium driven by playwright-core, with fake camera, microphone and screen. */
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A moving test pattern and a beeping tone instead of a camera and a microphone, and no prompts.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // getDisplayMedia picks the whole (virtual) screen without a picker.
  '--auto-select-desktop-capture-source=Entire screen',
  // Remote video with sound plays without a click, as it would after the user clicked Join.
  '--autoplay-policy=no-user-gesture-required',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: !process.env.E2E_HEADED });
}

export interface Participant {
  name: string;
  context: BrowserContext;
  page: Page;
  logs: string[];
}

/** A browser context (its own storage: one user) with camera and microphone allowed and the tests' page hooks. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], ...options });
  // tsx (esbuild keepNames) wraps named functions in __name(); code passed to page.evaluate needs it too.
  await context.addInitScript('globalThis.__name ??= (f) => f;');
  // Anything the page's Content-Security-Policy refuses is logged, so the suite can insist there is none (fixtures.ts).
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`[csp-violation] ${e.violatedDirective} ${e.blockedURI}`));
  });
  return context;
}

export async function openParticipant(
  browser: Browser,
  name: string,
  url: string,
  viewport = { width: 1280, height: 800 },
  /** Runs on the context before the page loads (init scripts that must precede the app). */
  prepare?: (context: BrowserContext) => Promise<void>,
): Promise<Participant> {
  const context = await newContext(browser, { viewport, baseURL: new URL(url).origin });
  await prepare?.(context);
  const page = await context.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  page.on('dialog', (d) => void d.accept());
  await page.goto(url);
  return { name, context, page, logs };
}

/** Frames decoded from every remote peer (getStats inbound-rtp video), through the app's test handle. */
export async function framesDecoded(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async () => (window.__lessoncall ? window.__lessoncall.framesDecoded() : {}));
}

export async function candidateTypes(page: Page): Promise<Record<string, string | undefined>> {
  return page.evaluate(async () => (window.__lessoncall ? window.__lessoncall.candidateTypes() : {}));
}

/** What the remote <video> elements show: frames the element presented, and whether it plays. */
export async function remoteVideos(page: Page) {
  return page.$$eval('[data-testid="remote-video"]', (els) =>
    (els as HTMLVideoElement[]).map((v) => ({
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
      playing: !v.paused && v.readyState >= 2,
      width: v.videoWidth,
      height: v.videoHeight,
      currentTime: v.currentTime,
    })),
  );
}

/** Polls `check` until it returns a truthy value; fails with the last value seen. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Holds every getUserMedia call until the page calls `window.__releaseMedia()` (through
 * releaseMedia): a camera that is slow to start, or a permission prompt the user has not
 * answered yet, made deterministic.
 */
export async function holdMedia(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const w = window as unknown as { __releaseMedia: () => void };
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    w.__releaseMedia = release;
    const md = navigator.mediaDevices;
    const real = md.getUserMedia.bind(md);
    md.getUserMedia = async (constraints) => {
      await released;
      return real(constraints);
    };
  });
}

export function releaseMedia(page: Page): Promise<void> {
  return page.evaluate(() => (window as unknown as { __releaseMedia: () => void }).__releaseMedia());
}
