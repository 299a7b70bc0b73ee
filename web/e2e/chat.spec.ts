/** Chat in a call: plain text, safe links, the unread badge, the keyboard, the history after a reload. */
import { eventually } from './browser';
import { joinLesson, test } from './fixtures';
import { reloadIntoCall, shot } from './steps';

test('chat: tutor and student chat (plain text, safe links, unread badge, keyboard), the student reloads and sees the history', async ({
  env,
  bookings,
  open,
}) => {
  const m = await bookings.book({ title: 'Chat lesson' });
  const tutor = await joinLesson(env, open, m, 'tutor', 'chat-tutor');
  const student = await joinLesson(env, open, m, 'student', 'chat-student');

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
});
