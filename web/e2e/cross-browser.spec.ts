/** Chromium ↔ Firefox lessons through the relay (cross-browser.ts), with Firefox on either side. */
import { crossBrowserLesson } from './cross-browser';
import { type Open, type OpenFirefox, test } from './fixtures';
import { fromPlaywright } from './firefox';
import type { Bookings } from './meetings';
import type { StackEnv } from './stack';
import { meetingUrl, screenshotsDir } from './steps';

interface Needs {
  env: StackEnv;
  bookings: Bookings;
  open: Open;
  openFirefox: OpenFirefox;
}

async function chromiumFirefox({ env, bookings, open, openFirefox }: Needs, firefoxAs: 'tutor' | 'student') {
  const m = await bookings.book({ title: `Chromium and Firefox (${firefoxAs} in Firefox)` });
  const chromiumAs = firefoxAs === 'tutor' ? 'student' : 'tutor';
  const chromium = await open(`chromium-${chromiumAs}`, meetingUrl(env, m, chromiumAs));
  const other = fromPlaywright(chromium.page, chromium.logs, () => chromium.context.close());
  const firefox = await openFirefox(meetingUrl(env, m, firefoxAs));
  await crossBrowserLesson({ tutor: firefoxAs === 'tutor' ? firefox : other, student: firefoxAs === 'tutor' ? other : firefox, screenshots: screenshotsDir });
}

// Self-contained (their own meeting and pages) and sensitive to a starved CPU (Firefox's decoder after an ICE restart): one reported retry.
test.describe.configure({ retries: 1 });

test('Chromium tutor, Firefox student, through the relay: video, mute, screen share, socket resume, ICE restart', ({ env, bookings, open, openFirefox }) =>
  chromiumFirefox({ env, bookings, open, openFirefox }, 'student'));
test('Firefox tutor, Chromium student, through the relay: video, mute, screen share, socket resume, ICE restart', ({ env, bookings, open, openFirefox }) =>
  chromiumFirefox({ env, bookings, open, openFirefox }, 'tutor'));
