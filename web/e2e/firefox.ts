/**
 * Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi, with Firefox's fake camera
 * and microphone, and a small page interface both it and a Playwright (Chromium) page satisfy,
 * so one scenario drives a Chromium ↔ Firefox lesson from either side.
 */
import type { Page as PlaywrightPage } from 'playwright-core';
import puppeteer, { type Browser as PuppeteerBrowser, type Page as PuppeteerPage } from 'puppeteer-core';

export const firefoxPath = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

export const firefoxPrefs = {
  // A test pattern and a tone instead of a camera and a microphone, and no permission prompt.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Remote video with sound plays without a click, as after the user clicked Join.
  'media.autoplay.default': 0,
  // The local coturn listens on 127.0.0.1 and relays to loopback (both browsers are on one
  // machine); Firefox leaves the loopback interface out of ICE unless told to.
  'media.peerconnection.ice.loopback': true,
  // getDisplayMedia without the picker (Firefox shows a window/screen chooser otherwise).
  'media.getdisplaymedia.screencapture.enabled': true,
};

export function launchFirefox(): Promise<PuppeteerBrowser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath,
    headless: !process.env.E2E_HEADED,
    extraPrefsFirefox: firefoxPrefs,
    defaultViewport: { width: 1280, height: 800 },
  });
}

/** What a scenario needs of a page, whichever browser runs it. */
export interface DrivenPage {
  readonly browserName: 'chromium' | 'firefox';
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /** Clicks the element with this data-testid (a real input event: it counts as a user gesture). */
  click(testId: string): Promise<void>;
  screenshot(path: string): Promise<void>;
  setViewport(width: number, height: number): Promise<void>;
  logs: string[];
  close(): Promise<void>;
}

export function fromPlaywright(page: PlaywrightPage, logs: string[], close: () => Promise<void>): DrivenPage {
  return {
    browserName: 'chromium',
    evaluate: (fn, arg) => page.evaluate(fn as never, arg) as never,
    click: (id) => page.getByTestId(id).click({ timeout: 10_000 }),
    screenshot: async (path) => void (await page.screenshot({ path })),
    setViewport: (width, height) => page.setViewportSize({ width, height }),
    logs,
    close,
  };
}

export async function openFirefoxPage(browser: PuppeteerBrowser, url: string): Promise<DrivenPage> {
  // One user per page: its own storage, as a separate browser context.
  const context = await browser.createBrowserContext();
  const page: PuppeteerPage = await context.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e instanceof Error ? e.message : String(e)}`));
  page.on('dialog', (d) => void d.accept());
  // tsx (esbuild keepNames) wraps named functions in __name(); code passed to evaluate needs it too.
  await page.evaluateOnNewDocument('globalThis.__name ??= (f) => f;');
  await page.goto(url);
  return {
    browserName: 'firefox',
    evaluate: (fn, arg) => page.evaluate(fn as never, arg) as never,
    async click(id) {
      const el = await page.waitForSelector(`[data-testid="${id}"]:not([disabled])`, { timeout: 10_000 });
      await el?.click();
    },
    screenshot: async (path) => void (await page.screenshot({ path: path as `${string}.png` })),
    setViewport: (width, height) => page.setViewport({ width, height }),
    logs,
    close: () => context.close(),
  };
}
