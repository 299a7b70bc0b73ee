/**
 * `npm run test:e2e`: the web app in Debian's Chromium (and firefox-esr, e2e/firefox.ts)
 * against the full local stack. One worker: the machine has two cores and the media checks
 * are sensitive to a starved CPU. No blanket retries: the few tests that may retry say so.
 */
import { defineConfig } from '@playwright/test';
import { chromiumArgs, chromiumPath } from './e2e/browser';

// E2E_ONLY (the old runner's filter): parts of a test's name, separated by |.
const only = process.env.E2E_ONLY?.split('|').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  outputDir: 'e2e/results/output',
  globalSetup: './e2e/global-setup.ts',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // A lesson with a recording, a bad network's recovery, a group of six: minutes, not seconds.
  timeout: 300_000,
  ...(only ? { grep: new RegExp(only.join('|')) } : {}),
  reporter: [['list'], ['./e2e/counts-reporter.ts']],
  use: {
    browserName: 'chromium',
    headless: !process.env.E2E_HEADED,
    launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
    // The limits playwright-core has by default (the test runner has none).
    actionTimeout: 30_000,
    navigationTimeout: 30_000,
  },
});
