/**
 * Lessons on the SFU (Janus), not forced through coturn: the local coturn relays from 127.0.0.1,
 * which Janus (on the host's address) cannot answer — Linux drops a reply from a non-loopback
 * address to loopback. In a cluster coturn and Janus have routable addresses and relaying works
 * as for p2p calls.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './browser';
import { test } from './fixtures';
import { fromPlaywright } from './firefox';
import { groupLesson } from './group-lesson';
import { bothSeeVideo, joinFromLobby, screenshotsDir, sfuMeetingUrl, shot } from './steps';

/**
 * A recorded 1:1 lesson runs on the SFU: both browsers publish once to the Janus room and see
 * each other through it; after the end the recording is made, linked from the meeting, and plays.
 * On a failure, what the call logged (the sfu: lines, `?debug`) is in the test's output dir.
 */
test('recorded lesson on the SFU: the lobby says so, both see each other through Janus, the recording plays with video and voice', async ({
  env,
  bookings,
  open,
}) => {
  const m = await bookings.book({ title: 'Recorded lesson', record: true });
  const enter = async (as: 'tutor' | 'student') => {
    const p = await open(`recorded-${as}`, sfuMeetingUrl(env, m, as));
    await p.page.getByTestId('lobby-recorded').waitFor({ timeout: 15_000 });
    await joinFromLobby(p);
    return p;
  };
  const tutor = await enter('tutor');
  const student = await enter('student');
  await shot(tutor.page, 'sfu-lobby-recorded');
  await bothSeeVideo(tutor.page, student.page, 30);
  await tutor.page.getByTestId('recording-badge').waitFor({ timeout: 5_000 });
  await shot(student.page, 'sfu-recorded-call');
  // A few more seconds of both on camera and microphone, then the tutor ends the lesson.
  await new Promise((r) => setTimeout(r, 3_000));
  await tutor.page.getByTestId('control-end').click();
  await tutor.page.locator('[data-testid="ended-screen"]').waitFor({ timeout: 10_000 });

  const base = env.WEB_URL;
  const token = (await (
    await fetch(`${base}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ as: 'student' }) })
  ).json()) as {
    accessToken: string;
  };
  let location = '';
  await eventually(
    'the recording is ready',
    async () => {
      const res = await fetch(`${base}/api/video/meetings/${m.meetingId}/recording`, {
        headers: { authorization: `Bearer ${token.accessToken}` },
        redirect: 'manual',
      });
      location = res.headers.get('location') ?? '';
      return res.status === 302;
    },
    90_000,
  );
  const file = join(tmpdir(), `lessoncall-e2e-${m.meetingId}.webm`);
  const video = await fetch(new URL(location, base));
  if (video.status !== 200) throw new Error(`the signed recording link answered ${video.status}`);
  writeFileSync(file, Buffer.from(await video.arrayBuffer()));
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=duration', '-of', 'json', file], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) throw new Error(`ffprobe cannot read the recording: ${probe.stderr}`);
  const info = JSON.parse(probe.stdout) as { streams: { codec_type: string }[]; format: { duration: string } };
  const kinds = info.streams.map((x) => x.codec_type).sort();
  if (kinds.join(',') !== 'audio,video') throw new Error(`the recording has ${kinds.join(',')}`);
  if (Number(info.format.duration) < 3) throw new Error(`the recording lasts ${info.format.duration} s`);
  // Decoded from start to end (a muxer's note about timestamps on the null output is not a decoding error).
  const decode = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  const decodeErrors = decode.stderr.split('\n').filter((l) => l.trim() && !/non monotonically increasing dts|Last message repeated/.test(l));
  if (decode.status !== 0 || decodeErrors.length > 0) throw new Error(`the recording does not decode: ${decode.stderr}`);
});

test.describe(() => {
  // Firefox and six publishers on two cores: one reported retry.
  test.describe.configure({ retries: 1 });
  test('group lesson on the SFU: a Chromium tutor, a Firefox student and four Node students see and decode everyone', async ({
    env,
    bookings,
    open,
    openFirefox,
  }, testInfo) => {
    await groupLesson({
      env,
      book: (otherStudents) => bookings.book({ title: 'Group lesson', otherStudents }),
      async open(m, as) {
        if (as === 'student') return openFirefox(sfuMeetingUrl(env, m, as));
        const p = await open('group-tutor', sfuMeetingUrl(env, m, as));
        return fromPlaywright(p.page, p.logs, () => p.context.close());
      },
      screenshots: screenshotsDir,
      results: testInfo.outputDir,
      log: console.log,
    });
  });
});
