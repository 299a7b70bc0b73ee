/** The tutor's controls over a student: ask to unmute, camera off, remove and allow back. */
import { eventually } from './browser';
import { joinLesson, test } from './fixtures';
import { atPhoneWidth, bothSeeVideo, joinFromLobby, shot } from './steps';

test('tutor controls: ask to unmute (the student unmutes), camera off, remove (the student sees why) and allow back', async ({ env, bookings, open }) => {
  const m = await bookings.book({ title: 'Tutor controls lesson' });
  const tutor = await joinLesson(env, open, m, 'tutor', 'controls-tutor');
  const student = await joinLesson(env, open, m, 'student', 'controls-student');
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
  await atPhoneWidth(tutor.page, ['remove-confirm-yes', 'remove-confirm-no'], () => shot(tutor.page, 'tutor-remove-confirm-phone'));
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
  await joinFromLobby(student).catch(() => {});
  const lobbyError = student.page.getByTestId('lobby-error');
  await lobbyError.waitFor({ timeout: 10_000 });
  if (!((await lobbyError.textContent()) ?? '').includes('The tutor removed you')) throw new Error(`the lobby says: ${await lobbyError.textContent()}`);

  // The tutor allows the student back: the next Join gets in.
  await shot(tutor.page, 'tutor-removed-list');
  await tutor.page.getByTestId('participant-allow').click();
  await tutor.page.getByTestId('removed-list').waitFor({ state: 'detached', timeout: 10_000 });
  await joinFromLobby(student);
  await bothSeeVideo(tutor.page, student.page);
});
