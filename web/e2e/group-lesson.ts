/**
 * A group lesson on the SFU as its people notice it: a Chromium tutor, a Firefox student and
 * four students in Node (@roamhq/wrtc, the web client's own call code) in one Janus room. Every
 * browser shows the five others as tiles whose video plays (decoded frames, advancing time), and
 * every Node student decodes the other five streams.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from './browser';
import type { DrivenPage } from './firefox';
import type { StackEnv } from './stack';
import type { TestMeeting } from './meetings';
import { WrtcStudent } from './wrtc-students';

export interface Tile {
  sessionId: string;
  width: number;
  frames: number;
  time: number;
  playing: boolean;
}

/**
 * The remote tiles a page shows, with what its <video> presents (size, time) and the frames
 * decoded for that session (getStats: Firefox's getVideoPlaybackQuality counts none for a
 * MediaStream).
 */
export function remoteTiles(p: DrivenPage): Promise<Tile[]> {
  return p.evaluate(async () => {
    const decoded = window.__lessoncall ? await window.__lessoncall.framesDecoded() : {};
    return [...document.querySelectorAll<HTMLElement>('[data-testid="tile-remote"]')].map((t) => {
      const v = t.querySelector<HTMLVideoElement>('[data-testid="remote-video"]');
      const sessionId = t.dataset.sessionId ?? '';
      return {
        sessionId,
        width: v?.videoWidth ?? 0,
        frames: decoded[sessionId] ?? 0,
        time: v?.currentTime ?? 0,
        playing: v ? !v.paused && v.readyState >= 2 : false,
      };
    });
  }, undefined);
}

const sameSet = (a: Iterable<string>, b: Iterable<string>) => {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

const selfSession = (p: DrivenPage) => p.evaluate(() => window.__lessoncall?.snapshot().self.sessionId ?? '', undefined);

/** Joins from the lobby (the button is enabled once the camera and the meeting are ready). */
async function joinFromLobby(p: DrivenPage) {
  await p.click('lobby-join');
  await eventually(`${p.browserName}: in the call`, () => p.evaluate(() => document.querySelector('[data-testid="call-room"]') !== null, undefined), 20_000);
}

export interface GroupLessonOptions {
  env: StackEnv;
  /** Books the lesson with these students besides the demo student. */
  book: (otherStudents: string[]) => Promise<TestMeeting>;
  /** Opens a page of the meeting (its link) as tutor in Chromium or student in Firefox. */
  open: (m: TestMeeting, as: 'tutor' | 'student') => Promise<DrivenPage>;
  screenshots: string;
  /** Where a failure leaves each page's log and screenshot. */
  results: string;
  log: (line: string) => void;
}

export async function groupLesson(o: GroupLessonOptions): Promise<void> {
  const ids = Array.from({ length: 4 }, () => randomUUID());
  const m = await o.book(ids);
  const pages: DrivenPage[] = [];
  const students: WrtcStudent[] = [];
  try {
    const tutor = await o.open(m, 'tutor');
    pages.push(tutor);
    await joinFromLobby(tutor);
    const firefox = await o.open(m, 'student');
    pages.push(firefox);
    await joinFromLobby(firefox);
    // Node Student 3 talks (a steady tone); the others publish video only.
    for (const [i, id] of ids.entries()) students.push(await WrtcStudent.join(o.env, m, id, `Node Student ${i + 1}`, i === 2 ? 440 : undefined));

    const tutorSession = await selfSession(tutor);
    const firefoxSession = await selfSession(firefox);
    const everyone = [tutorSession, firefoxSession, ...students.map((s) => s.sessionId)];
    if (new Set(everyone).size !== 6 || everyone.some((s) => !s)) throw new Error(`six sessions expected, got ${JSON.stringify(everyone)}`);
    const others = (me: string) => everyone.filter((s) => s !== me);

    // Every browser: the five others as tiles, each video decoding and playing.
    for (const [p, me] of [
      [tutor, tutorSession],
      [firefox, firefoxSession],
    ] as const) {
      await eventually(
        `${p.browserName}: five remote tiles with live video`,
        async () => {
          const tiles = await remoteTiles(p);
          if (
            !sameSet(
              tiles.map((t) => t.sessionId),
              others(me),
            ) ||
            !tiles.every((t) => t.width > 0 && t.frames > 0 && t.playing)
          )
            throw new Error(JSON.stringify(tiles));
          return tiles;
        },
        45_000,
        500,
      );
    }
    // Every Node student: frames from the five others.
    await eventually(
      'every Node student decodes the five others',
      async () => students.every((s) => others(s.sessionId).every((id) => (s.framesFrom.get(id) ?? 0) > 10)),
      45_000,
      500,
    );

    // Still live a few seconds later: every tile's frames and time moved on, every stream's frames too.
    const before = await Promise.all(pages.map(remoteTiles));
    const framesBefore = students.map((s) => new Map(s.framesFrom));
    await new Promise((r) => setTimeout(r, 3_000));
    for (const [i, p] of pages.entries()) {
      const after = await remoteTiles(p);
      for (const t of after) {
        const b = before[i]?.find((x) => x.sessionId === t.sessionId);
        if (!b || t.frames < b.frames + 10 || t.time <= b.time) {
          throw new Error(`${p.browserName}: the video of ${t.sessionId} stalled (${JSON.stringify(b)} → ${JSON.stringify(t)})`);
        }
      }
    }
    for (const [i, s] of students.entries()) {
      for (const id of others(s.sessionId)) {
        const moved = (s.framesFrom.get(id) ?? 0) - (framesBefore[i]?.get(id) ?? 0);
        if (moved < 10) throw new Error(`${s.name}: only ${moved} frames from ${id} in 3 s`);
      }
    }
    const rates = students.map((s, i) => others(s.sessionId).map((id) => (s.framesFrom.get(id) ?? 0) - (framesBefore[i]?.get(id) ?? 0)));
    o.log(
      `    group lesson: Node students decoded ${Math.min(...rates.flat())}–${Math.max(...rates.flat())} frames per stream in 3 s (the Node cameras send 15 fps, the browsers’ fake cameras 30)`,
    );

    // Quality indicators: every remote tile, and one's own tile (the uplink to the room).
    for (const p of pages) {
      await eventually(`${p.browserName}: quality on every tile and of the own uplink`, () =>
        p.evaluate(() => {
          const level = (el: Element | null) => el?.getAttribute('data-level') ?? '';
          const tiles = [...document.querySelectorAll('[data-testid="tile-remote"]')].map((t) => level(t.querySelector('[data-testid="tile-quality"]')));
          const own = level(document.querySelector('[data-testid="tile-self"] [data-testid="self-quality"]'));
          const known = (l: string) => ['good', 'fair', 'poor'].includes(l);
          return tiles.length === 5 && tiles.every(known) && known(own);
        }, undefined),
      );
    }

    // Simulcast: the Chromium tutor publishes three layers; a Node student asking for the low one
    // gets a smaller picture than with the high one. Firefox publishes one layer.
    const watcher = students[0] as WrtcStudent;
    const wantAll = (tutorLayer: 0 | 1 | 2) =>
      new Map(others(watcher.sessionId).map((id) => [id, { send: true as const, substream: id === tutorSession ? tutorLayer : (2 as const) }]));
    const settledWidth = async (layer: 0 | 2) => {
      watcher.setVideoWanted(wantAll(layer));
      let last = -1;
      return eventually(
        `the tutor's layer ${layer} at a Node student`,
        async () => {
          const w = watcher.widthFrom.get(tutorSession) ?? 0;
          const settled = w > 0 && w === last && (layer === 0 ? w <= 320 : w > 320);
          last = w;
          if (!settled)
            throw new Error(
              `received ${w} px; the tutor sends ${JSON.stringify(await tutor.evaluate(() => window.__lessoncall?.publisherLayers() ?? [], undefined))}`,
            );
          return w;
        },
        20_000,
        700,
      );
    };
    const low = await settledWidth(0);
    const high = await settledWidth(2);
    o.log(
      `    simulcast: the tutor's low layer arrives ${low} px wide, the high one ${high} px; Firefox's single layer ${watcher.widthFrom.get(firefoxSession)} px`,
    );

    // Active speaker: tutor and Firefox student mute; Node Student 3, the one talking, becomes
    // the large tile on both browsers (after the spotlight's hold) and is marked speaking.
    const talker = (students[2] as WrtcStudent).sessionId;
    for (const p of pages) await p.click('control-mic');
    for (const p of pages) {
      await eventually(
        `${p.browserName}: the one talking is the large tile`,
        () =>
          p.evaluate((id) => {
            const large = document.querySelector<HTMLElement>('[data-testid="tile-remote"][data-large="true"]');
            return large?.dataset.sessionId === id && large.dataset.speaking === 'true';
          }, talker),
        20_000,
      );
    }
    // The layer by tile size, in a browser: on the Firefox student's stage the tutor (who sends
    // three layers) is now a grid tile about 200 px wide, so Firefox asks for and gets the low
    // layer — while the tutor is sending the high one, which the Node student still asking for it
    // gets at the same moment (a starved CPU can make Chromium drop its upper layers for a while).
    const layerCheck = await eventually(
      'firefox: the tutor’s grid tile gets the low layer while the high one is being sent',
      async () => {
        const t = (await remoteTiles(firefox)).find((x) => x.sessionId === tutorSession);
        const high = watcher.widthFrom.get(tutorSession) ?? 0;
        return t && t.width > 0 && t.width <= 320 && high > 320 ? { small: t.width, high } : false;
      },
      20_000,
    );
    o.log(
      `    layer by tile size: the tutor's grid tile in Firefox shows ${layerCheck.small} px while a Node student asking for the high layer gets ${layerCheck.high} px`,
    );
    await tutor.screenshot(join(o.screenshots, 'sfu-group-tutor-chromium.png'));
    await firefox.screenshot(join(o.screenshots, 'sfu-group-student-firefox.png'));

    // At phone width a page holds three others: five need two pages. The one off the page gets
    // no video from the room (its frames stop while the shown ones' keep coming); the next page shows it.
    await tutor.setViewport(390, 844);
    const pageLabel = () => tutor.evaluate(() => document.querySelector('[data-testid="page-label"]')?.textContent ?? '', undefined);
    await eventually('tutor at phone width: page 1 of 2', async () => (await pageLabel()) === 'Page 1 of 2' && (await remoteTiles(tutor)).length === 4);
    const shown = (await remoteTiles(tutor)).map((t) => t.sessionId);
    const offPage = others(tutorSession).filter((id) => !shown.includes(id));
    if (offPage.length !== 1) throw new Error(`one person off page 1 expected, got ${JSON.stringify(offPage)}`);
    const offId = offPage[0] as string;
    if (!shown.includes(talker)) throw new Error('the one talking is not on the page');
    const decoded = (): Promise<Record<string, number>> =>
      tutor.evaluate(async () => (window.__lessoncall ? window.__lessoncall.framesDecoded() : {}), undefined);
    await new Promise((r) => setTimeout(r, 1_000)); // the pause is sent debounced, frames on the way still arrive
    const d0 = await decoded();
    await new Promise((r) => setTimeout(r, 3_000));
    const d1 = await decoded();
    const moved = (id: string) => (d1[id] ?? 0) - (d0[id] ?? 0);
    if (moved(offId) > 3) throw new Error(`the tile off the page still decoded ${moved(offId)} frames in 3 s`);
    for (const id of shown) if (moved(id) < 10) throw new Error(`a tile on the page decoded only ${moved(id)} frames in 3 s`);
    await tutor.screenshot(join(o.screenshots, 'sfu-group-tutor-phone.png'));
    await tutor.click('page-next');
    await eventually('page 2 of 2 shows the one who was off page 1, with video again', async () => {
      if ((await pageLabel()) !== 'Page 2 of 2') return false;
      const tile = (await remoteTiles(tutor)).find((t) => t.sessionId === offId);
      return !!tile && tile.frames > (d1[offId] ?? 0) + 10 && tile.width > 0;
    });
    o.log(
      `    pages: off page 1 the tile decoded ${moved(offId)} frames in 3 s, the shown ones ${Math.min(...shown.map(moved))}–${Math.max(...shown.map(moved))}`,
    );
  } catch (err) {
    mkdirSync(o.results, { recursive: true });
    for (const [i, p] of pages.entries()) {
      writeFileSync(join(o.results, `group-${i}-${p.browserName}.log`), p.logs.join('\n'));
      await p.screenshot(join(o.results, `group-${i}-${p.browserName}.png`)).catch(() => {});
    }
    for (const s of students) writeFileSync(join(o.results, `group-${s.name.replace(/\W+/g, '-')}.log`), s.logs.join('\n'));
    throw err;
  } finally {
    await Promise.all(students.map((s) => s.leave().catch(() => {})));
    await Promise.all(pages.map((p) => p.close().catch(() => {})));
  }
}
