/** The shared whiteboard: drawing at once, the lock, a reload, the lesson's record. */
import type { Page } from 'playwright-core';
import { eventually } from './browser';
import { joinLesson, test } from './fixtures';
import { reloadIntoCall, shot } from './steps';

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

test('whiteboard: tutor and student draw at once and converge, the tutor locks it, the student reloads and sees it, the record shows it', async ({
  env,
  bookings,
  open,
}) => {
  const m = await bookings.book({ title: 'Whiteboard lesson' });
  const tutor = await joinLesson(env, open, m, 'tutor', 'board-tutor');
  const student = await joinLesson(env, open, m, 'student', 'board-student');

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
});
