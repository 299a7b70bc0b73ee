/**
 * The browser tests' fixtures. The stack is one per run (global-setup.ts); per worker, the
 * booking connection and one Firefox; per test, its own lesson and its own browser contexts,
 * so any test runs alone (`--grep`) and none depends on another's call.
 *
 * Every page a test opens goes through `open` / `openFirefox`: when the test ends they are
 * checked (no Content-Security-Policy violation, no page error), on a failure their console log
 * and a screenshot go to the test's output dir, and they are closed.
 */
import { writeFileSync } from 'node:fs';
import { test as base } from '@playwright/test';
import type { BrowserContext } from 'playwright-core';
import type { Browser as PuppeteerBrowser } from 'puppeteer-core';
import { newContext, openParticipant, type Participant } from './browser';
import { type DrivenPage, launchFirefox, openFirefoxPage } from './firefox';
import { Bookings, type TestMeeting } from './meetings';
import { type StackEnv, stackEnvVariable } from './stack';
import { bothSeeVideo, joinFromLobby, meetingUrl } from './steps';

export interface Call {
  meeting: TestMeeting;
  tutor: Participant;
  student: Participant;
}

/** Opens a Chromium page of its own (a browser context: one user) at `url`. */
export type Open = (name: string, url: string, opts?: { prepare?: (context: BrowserContext) => Promise<void>; bypassCSP?: boolean }) => Promise<Participant>;

/** Opens a Firefox page of its own (a browser context) at `url`. */
export type OpenFirefox = (url: string) => Promise<DrivenPage>;

interface TestFixtures {
  open: Open;
  openFirefox: OpenFirefox;
  /** A lesson of the demo tutor and student, starting now. */
  meeting: TestMeeting;
  /** `meeting` with the tutor and the student in the call (the tutor first), each decoding the other's video. */
  call: Call;
  /** Automatic: the checks and clean-up of every page the test opened. */
  pages: { chromium: Participant[]; firefox: DrivenPage[] };
}

interface WorkerFixtures {
  env: StackEnv;
  bookings: Bookings;
  /** Launched once per worker, on first use. */
  firefox: PuppeteerBrowser;
}

/** A participant in a context of their own, through the lobby into the call of `m`. */
export async function joinLesson(env: StackEnv, open: Open, m: TestMeeting, as: 'tutor' | 'student', name: string = as): Promise<Participant> {
  const p = await open(name, meetingUrl(env, m, as));
  await joinFromLobby(p);
  return p;
}

/** The tutor joins `meeting` and waits; the student joins; each decodes the other's video. */
export async function joinCall(env: StackEnv, meeting: TestMeeting, open: Open): Promise<Call> {
  const tutor = await joinLesson(env, open, meeting, 'tutor');
  await tutor.page.getByTestId('waiting').waitFor();
  const student = await joinLesson(env, open, meeting, 'student');
  await bothSeeVideo(tutor.page, student.page);
  return { meeting, tutor, student };
}

/**
 * Known, not yet fixed: Excalidraw lists esm.sh after the app's own /excalidraw/fonts in every
 * font's sources (its ASSETS_FALLBACK_URL, appended whatever EXCALIDRAW_ASSET_PATH says), and
 * Chromium reports each of those as a font-src violation when the board opens. Only these pass.
 */
const excalidrawFontFallback = /\[csp-violation\] font-src https:\/\/esm\.sh\/@excalidraw\/excalidraw@[\d.]+\/dist\/prod\/fonts\//;

/** What the pages' logs hold that fails a test: newContext logs each CSP violation as `[csp-violation]`. */
const faults = (logs: string[]) => logs.filter((l) => l.startsWith('[pageerror]') || (l.includes('[csp-violation]') && !excalidrawFontFallback.test(l)));

export const test = base.extend<TestFixtures, WorkerFixtures>({
  env: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads the fixtures a fixture needs from this pattern.
    async ({}, use) => {
      const json = process.env[stackEnvVariable];
      if (!json) throw new Error(`${stackEnvVariable} is not set: run through playwright.config.ts (its global setup starts the stack)`);
      await use(JSON.parse(json) as StackEnv);
    },
    { scope: 'worker' },
  ],
  bookings: [
    async ({ env }, use) => {
      const bookings = await Bookings.connect(env);
      await use(bookings);
      await bookings.close();
    },
    { scope: 'worker' },
  ],
  firefox: [
    // biome-ignore lint/correctness/noEmptyPattern: as above.
    async ({}, use) => {
      const firefox = await launchFirefox();
      await use(firefox);
      await firefox.close().catch(() => {});
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  pages: [
    // biome-ignore lint/correctness/noEmptyPattern: as above.
    async ({}, use, testInfo) => {
      const pages: TestFixtures['pages'] = { chromium: [], firefox: [] };
      await use(pages);
      const found = [
        ...pages.chromium.map((p) => [p.name, faults(p.logs)] as const),
        ...pages.firefox.map((p, i) => [`firefox-${i}`, faults(p.logs)] as const),
      ].filter(([, f]) => f.length > 0);
      if (testInfo.status !== testInfo.expectedStatus || found.length) {
        for (const [i, p] of pages.chromium.entries()) {
          const base = testInfo.outputPath(`${i}-${p.name}`.replace(/[^a-z0-9-]+/gi, '_'));
          writeFileSync(`${base}.log`, p.logs.join('\n'));
          if (!p.page.isClosed()) await p.page.screenshot({ path: `${base}.png` }).catch(() => {});
        }
        for (const [i, p] of pages.firefox.entries()) {
          const base = testInfo.outputPath(`firefox-${i}`);
          writeFileSync(`${base}.log`, p.logs.join('\n'));
          await p.screenshot(`${base}.png`).catch(() => {});
        }
      }
      await Promise.all([...pages.chromium.map((p) => p.context.close().catch(() => {})), ...pages.firefox.map((p) => p.close().catch(() => {}))]);
      if (found.length) {
        // The first few of each page: the rest are in its log, in the test's output dir.
        const said = found.map(([name, f]) => `${name}: ${f.length} (${JSON.stringify(f.slice(0, 3))}${f.length > 3 ? ' …' : ''})`);
        throw new Error(`CSP violations or page errors — ${said.join('; ')}`);
      }
    },
    { auto: true },
  ],
  open: async ({ browser, pages }, use) => {
    await use(async (name, url, opts = {}) => {
      if (opts.bypassCSP) {
        // A page that evaluates code the app's CSP would (rightly) refuse: the tests' own page, not the app's.
        const context = await newContext(browser, { bypassCSP: true });
        const p: Participant = { name, context, page: await context.newPage(), logs: [] };
        pages.chromium.push(p);
        await p.page.goto(url);
        return p;
      }
      const p = await openParticipant(browser, name, url, undefined, opts.prepare);
      pages.chromium.push(p);
      return p;
    });
  },
  openFirefox: async ({ firefox, pages }, use) => {
    await use(async (url) => {
      const p = await openFirefoxPage(firefox, url);
      pages.firefox.push(p);
      return p;
    });
  },
  meeting: async ({ bookings }, use) => {
    await use(await bookings.book({ title: 'Algebra with Demo Tutor' }));
  },
  call: async ({ env, meeting, open }, use) => {
    await use(await joinCall(env, meeting, open));
  },
});
