/**
 * A two-person call, relayed by coturn (`?relay=1`): joining, what each side shows of the other,
 * mute, screen share, devices, phone width, a dropped socket and a silent network, leave, end.
 * The tests of one call feature take the `call` fixture: tutor and student already in it.
 */
import { candidateTypes, eventually, framesDecoded, holdMedia, releaseMedia, remoteVideos } from './browser';
import { type Call, joinCall, test } from './fixtures';
import { atPhoneWidth, bothSeeVideo, framesAdvance, joinFromLobby, joinReports, meetingUrl, shot, showsOwnMediaOn, showsRemoteMediaOn } from './steps';

test('both click Join the instant it is enabled, camera slow to start: everyone is shown as they are (issue 13)', async ({ env, bookings, open }) => {
  const m = await bookings.book({ title: 'Join at once' });
  const tutor = await open('tutor-at-once', meetingUrl(env, m, 'tutor'), { prepare: holdMedia });
  const student = await open('student-at-once', meetingUrl(env, m, 'student'), { prepare: holdMedia });
  for (const p of [tutor, student]) {
    // The lesson has loaded, the devices have not answered: Join must wait for them.
    await p.page.getByTestId('lobby-title').filter({ hasText: 'Join at once' }).waitFor();
    const join = p.page.getByTestId('lobby-join');
    await eventually('join waits for the devices', async () => (await join.isDisabled()) && (await join.textContent()) === 'Starting camera and microphone…');
  }
  await shot(tutor.page, 'lobby-starting-devices');
  for (const p of [tutor, student]) await releaseMedia(p.page);
  // click() acts the moment the button is enabled: the earliest a person could press it.
  await Promise.all([tutor.page.getByTestId('lobby-join').click(), student.page.getByTestId('lobby-join').click()]);
  await bothSeeVideo(tutor.page, student.page);
  for (const p of [tutor, student]) {
    await showsOwnMediaOn(p);
    await showsRemoteMediaOn(p);
  }
  await shot(student.page, 'join-at-once');
});

test('tutor and student join and both see the other’s video, relayed by coturn', async ({ env, meeting, open }) => {
  const tutor = await open('tutor', meetingUrl(env, meeting, 'tutor'));
  await joinFromLobby(tutor);
  await tutor.page.getByTestId('waiting').waitFor();
  const student = await open('student', meetingUrl(env, meeting, 'student'));
  await joinFromLobby(student);
  // The app took the passcode out of the address bar (history), having kept it for a reload.
  for (const p of [tutor, student]) if (p.page.url().includes(meeting.passcode)) throw new Error(`${p.name}: the passcode is still in ${p.page.url()}`);
  await bothSeeVideo(tutor.page, student.page);
  for (const p of [tutor, student]) {
    const types = Object.values(await candidateTypes(p.page));
    if (types.length !== 1 || types[0] !== 'relay') throw new Error(`${p.name}: expected one relayed connection, got ${JSON.stringify(types)}`);
  }
  await eventually('quality shows relay', async () => (await tutor.page.getByTestId('tile-quality').getAttribute('data-route')) === 'relay');
  const names = await tutor.page.getByTestId('tile-remote').getAttribute('data-name');
  if (names !== 'Demo Student') throw new Error(`tutor sees ${names}`);
  // The role beside the name comes from userType, not from whatever the name says.
  const role = await tutor.page.getByTestId('tile-remote').getByTestId('tile-role').textContent();
  if (role !== 'Student') throw new Error(`tutor sees the role ${role}`);
  await shot(tutor.page, 'call-two-people');
});

test('both browsers tell the gateway how long their join took to show the other (the join-to-media service level)', async ({ env, meeting, open }) => {
  const before = await joinReports(env);
  await joinCall(env, meeting, open);
  await eventually('two relayed join reports counted', async () => (await joinReports(env)) >= before + 2);
});

test('participant list shows both, with live mute state', async ({ call: { tutor } }) => {
  await tutor.page.getByTestId('control-participants').click();
  const panel = tutor.page.getByTestId('participants-panel');
  await panel.waitFor();
  await eventually('two rows', async () => (await panel.getByTestId('participant-row').count()) === 2);
  await panel.locator('[data-testid="participant-row"][data-name="Demo Student"]').waitFor();
  await shot(tutor.page, 'participant-list');
});

test('the student mutes: the tutor sees it, in the tile and the list', async ({ call: { tutor, student } }) => {
  await tutor.page.getByTestId('control-participants').click();
  await tutor.page.getByTestId('participants-panel').waitFor();
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="true"] [data-testid="badge-muted"]').waitFor({ timeout: 10_000 });
  await tutor.page.locator('[data-testid="participant-row"][data-name="Demo Student"][data-muted="true"]').waitFor({ timeout: 10_000 });
  // Unmuting with the keyboard: Tab reaches the control, Space presses it.
  await student.page.locator('body').click({ position: { x: 5, y: 200 } });
  await eventually('Tab reaches the microphone button', async () => {
    await student.page.keyboard.press('Tab');
    return student.page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'control-mic');
  });
  const label = await student.page.getByTestId('control-mic').getAttribute('aria-label');
  if (label !== 'Unmute microphone') throw new Error(`the focused button says ${label}`);
  await student.page.keyboard.press('Space');
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="false"]').waitFor({ timeout: 10_000 });
});

test('the tutor mutes the student', async ({ call: { tutor, student } }) => {
  await tutor.page.getByTestId('control-participants').click();
  await tutor.page.getByTestId('participants-panel').waitFor();
  await tutor.page.getByTestId('participant-mute').click();
  await student.page.locator('[data-testid="control-mic"][aria-pressed="true"]').waitFor({ timeout: 10_000 });
  await student.page.getByTestId('notice').filter({ hasText: 'The tutor muted your microphone' }).waitFor({ timeout: 5_000 });
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="true"]').waitFor({ timeout: 10_000 });
  // Only the student can turn it back on.
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="false"]').waitFor({ timeout: 10_000 });
  await tutor.page.getByTestId('control-participants').click();
});

test('the tutor shares the screen: the student sees it, then the camera again', async ({ call: { tutor, student } }) => {
  const connection = async () => {
    const all = Object.values(await tutor.page.evaluate(() => window.__lessoncall?.connections() ?? {}));
    if (all.length !== 1 || !all[0]) throw new Error(`tutor has ${all.length} connections`);
    return { ...all[0], video: all[0].senders.find((s) => s.kind === 'video')?.label ?? '' };
  };
  const before = await connection();
  const beforeVideo = (await remoteVideos(student.page))[0];
  await tutor.page.getByTestId('control-share').click();
  await tutor.page.locator('[data-testid="control-share"][aria-pressed="true"]').waitFor({ timeout: 10_000 });
  await student.page.locator('[data-testid="tile-remote"][data-screen="true"] [data-testid="badge-screen"]').waitFor({ timeout: 10_000 });
  // The tutor now sends the screen on the same sender, without a new offer/answer.
  const sharing = await connection();
  if (!/screen/i.test(sharing.video) || sharing.video === before.video) throw new Error(`video sender sends ${sharing.video}`);
  if (sharing.localSdp !== before.localSdp || sharing.transceivers !== before.transceivers) throw new Error('screen share renegotiated');
  // The fake screen is 1280×720 at 15 fps, sent as "detail": the student's video changes size and keeps playing.
  await eventually('remote video shows the screen', async () => {
    const v = (await remoteVideos(student.page))[0];
    return v?.playing && (v.width !== beforeVideo?.width || v.height !== beforeVideo?.height);
  });
  await framesAdvance(student.page, 'while sharing');
  await shot(student.page, 'screen-share');
  await tutor.page.getByTestId('control-share').click();
  await student.page.locator('[data-testid="tile-remote"][data-screen="false"]').waitFor({ timeout: 10_000 });
  const after = await eventually('the camera is sent again', async () => {
    const now = await connection();
    return now.video === before.video ? now : undefined;
  });
  if (after.localSdp !== before.localSdp) throw new Error('stopping the share renegotiated');
  await framesAdvance(student.page, 'camera again');
});

test('in the call: the device panel switches camera, microphone and speaker, and a share mixes its sound, without renegotiating', async ({
  env,
  bookings,
  open,
}) => {
  const m = await bookings.book({ title: 'Devices in the call' });
  const tutor = await open('tutor-devices', meetingUrl(env, m, 'tutor'));
  const student = await open('student-devices', meetingUrl(env, m, 'student'));
  for (const p of [tutor, student]) {
    await eventually('join enabled', async () => p.page.getByTestId('lobby-join').isEnabled());
    await p.page.getByTestId('lobby-join').click();
  }
  await bothSeeVideo(tutor.page, student.page);
  const page = student.page;
  const connection = async () => {
    const all = Object.values(await page.evaluate(() => window.__lessoncall?.connections() ?? {}));
    if (all.length !== 1 || !all[0]) throw new Error(`student has ${all.length} connections`);
    const sender = (kind: string) => all[0]?.senders.find((s) => s.kind === kind);
    return { sdp: all[0].localSdp, transceivers: all[0].transceivers, video: sender('video'), audio: sender('audio') };
  };
  const before = await connection();
  await page.getByTestId('control-devices').click();
  const panel = page.getByTestId('device-panel');
  await panel.waitFor();
  const options = (id: string) =>
    page
      .getByTestId(id)
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  const cameras = await options('call-camera-select');
  const mics = await options('call-mic-select');
  const speakers = (await page.getByTestId('call-speaker-select').count()) ? await options('call-speaker-select') : [];
  console.log(`    Chromium's fake devices: ${cameras.length} camera(s), ${mics.length} microphone(s), ${speakers.length} speaker choice(s)`);
  // One fake camera: picking it again still opens it anew (a new track), which is the path a second camera takes.
  const current = await page.getByTestId('call-camera-select').inputValue();
  await page.getByTestId('call-camera-select').selectOption(cameras.find((id) => id !== current) ?? current);
  const camera = await eventually('the new camera track is sent', async () => {
    const now = await connection();
    return now.video?.id && now.video.id !== before.video?.id ? now : undefined;
  });
  if (camera.sdp !== before.sdp || camera.transceivers !== before.transceivers) throw new Error('switching the camera renegotiated');
  const micNow = await page.getByTestId('call-mic-select').inputValue();
  const mic = mics.find((id) => id !== micNow);
  if (!mic) throw new Error(`only one microphone listed: ${JSON.stringify(mics)}`);
  await page.getByTestId('call-mic-select').selectOption(mic);
  const switched = await eventually('the new microphone track is sent', async () => {
    const now = await connection();
    return now.audio?.id && now.audio.id !== before.audio?.id ? now : undefined;
  });
  if (switched.sdp !== before.sdp || switched.transceivers !== before.transceivers) throw new Error('switching the microphone renegotiated');
  await framesAdvance(tutor.page, 'after the switch');
  await showsRemoteMediaOn(tutor);
  const speaker = speakers.find((id) => id !== '');
  if (speaker) {
    await page.getByTestId('call-speaker-select').selectOption(speaker);
    await eventually('remote audio plays on the chosen speaker', async () =>
      page.getByTestId('remote-video').evaluate((v, id) => (v as HTMLVideoElement & { sinkId?: string }).sinkId === id, speaker),
    );
  }
  await shot(page, 'call-devices');
  // Screen share with sound: Chromium's fake capture may or may not give the tab's audio; say which.
  const micSent = await connection();
  await page.getByTestId('control-devices').click();
  await page.getByTestId('control-share').click();
  await page.locator('[data-testid="control-share"][aria-pressed="true"]').waitFor({ timeout: 10_000 });
  await eventually('the screen is sent', async () => /screen/i.test((await connection()).video?.label ?? ''));
  const sharing = await connection();
  if (sharing.sdp !== before.sdp) throw new Error('the share renegotiated');
  const hasSound = await page.evaluate(() => window.__lessoncall?.snapshot().local.screenAudio ?? false);
  if (hasSound) {
    if (sharing.audio?.id === micSent.audio?.id) throw new Error('the share has sound but the microphone alone is sent');
  } else if (sharing.audio?.id !== micSent.audio?.id) {
    throw new Error('no sound in the share, yet the audio sender changed');
  }
  console.log(`    fake screen capture with audio: ${hasSound ? 'yes, mixed with the microphone' : 'no audio track (the mix is not exercised here)'}`);
  await page.getByTestId('control-share').click();
  await eventually('the microphone alone is sent again', async () => (await connection()).audio?.id === micSent.audio?.id);
  await framesAdvance(tutor.page, 'after the share');
});

test('at phone width the call fits the screen and every control is reachable', async ({ call: { student } }) => {
  const controls = ['control-mic', 'control-camera', 'control-share', 'control-participants', 'control-chat', 'control-devices', 'control-leave'];
  await atPhoneWidth(student.page, [...controls, 'tile-remote', 'tile-self'], () => shot(student.page, 'call-phone'));
});

test('the student’s socket drops and resumes while the video keeps playing', async ({ call: { tutor, student } }) => {
  const sessionBefore = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  // Record the banner even if the resume is quicker than a poll.
  await student.page.evaluate(() => {
    const w = window as unknown as { __sawBanner: boolean };
    w.__sawBanner = false;
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="reconnecting-banner"]')) w.__sawBanner = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
  const framesBefore = { tutor: await framesDecoded(tutor.page), student: await framesDecoded(student.page) };
  await student.page.evaluate(() => window.__lessoncall?.dropSignaling());
  await eventually('banner seen', async () => student.page.evaluate(() => (window as unknown as { __sawBanner: boolean }).__sawBanner), 5_000, 20);
  await eventually('back in the call', async () => (await student.page.getByTestId('call-room').getAttribute('data-phase')) === 'in-call', 15_000);
  const sessionAfter = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  if (sessionAfter !== sessionBefore) throw new Error(`session changed: ${sessionBefore} → ${sessionAfter} (not resumed)`);
  await student.page.getByTestId('reconnecting-banner').waitFor({ state: 'detached' });
  // Same peer connection, frames kept coming on both sides.
  for (const [name, p, before] of [
    ['tutor', tutor.page, framesBefore.tutor],
    ['student', student.page, framesBefore.student],
  ] as const) {
    await eventually(`${name}: frames kept coming on the same connection`, async () => {
      const now = await framesDecoded(p);
      const ids = Object.keys(before);
      return ids.length === 1 && Object.keys(now).join() === ids.join() && (now[ids[0] as string] ?? 0) > (before[ids[0] as string] ?? 0) + 10;
    });
  }
  if ((await tutor.page.getByTestId('tile-remote').count()) !== 1) throw new Error('the tutor lost the student tile');
  // Signaling works after the resume: a mute still reaches the other side.
  await student.page.getByTestId('control-camera').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-camera-off="true"]').waitFor({ timeout: 10_000 });
  await student.page.getByTestId('control-camera').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-camera-off="false"]').waitFor({ timeout: 10_000 });
  await bothSeeVideo(tutor.page, student.page);
});

test('the student’s network goes silent: the call notices without a close, says so, and resumes', async ({ call: { tutor, student } }) => {
  const sessionBefore = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  // DevTools "offline": the socket stays open but nothing passes (a half-open connection, as
  // behind a dead NAT); only the missing pongs can tell. WebRTC is not affected by the emulation.
  await student.context.setOffline(true);
  try {
    await student.page.getByTestId('reconnecting-banner').waitFor({ timeout: 20_000 });
    await shot(student.page, 'reconnecting');
    await framesAdvance(tutor.page, 'tutor, while the student is offline');
    await framesAdvance(student.page, 'student, while offline');
  } finally {
    await student.context.setOffline(false);
  }
  await student.page.getByTestId('reconnecting-banner').waitFor({ state: 'detached', timeout: 20_000 });
  const sessionAfter = await student.page.evaluate(() => window.__lessoncall?.snapshot().self.sessionId);
  if (sessionAfter !== sessionBefore) throw new Error(`session changed: ${sessionBefore} → ${sessionAfter} (not resumed)`);
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="true"]').waitFor({ timeout: 10_000 });
  await student.page.getByTestId('control-mic').click();
  await tutor.page.locator('[data-testid="tile-remote"][data-muted="false"]').waitFor({ timeout: 10_000 });
  if ((await tutor.page.getByTestId('tile-remote').count()) !== 1) throw new Error('the tutor lost the student tile');
});

async function studentLeaves({ tutor, student }: Call) {
  await student.page.getByTestId('control-leave').click();
  await student.page.locator('[data-testid="ended-screen"][data-reason="left"]').waitFor({ timeout: 10_000 });
  await tutor.page.getByTestId('tile-remote').waitFor({ state: 'detached', timeout: 10_000 });
  await tutor.page.getByTestId('notice').filter({ hasText: 'Demo Student left the lesson' }).waitFor({ timeout: 5_000 });
  await tutor.page.getByTestId('waiting').waitFor();
}

test('the student leaves: the tutor sees it', async ({ call }) => studentLeaves(call));

test('the student rejoins, the tutor ends the lesson: both see why', async ({ call }) => {
  const { tutor, student } = call;
  await studentLeaves(call);
  await student.page.getByTestId('rejoin-button').click();
  await eventually('student can join', async () => student.page.getByTestId('lobby-join').isEnabled());
  await student.page.getByTestId('lobby-join').click();
  await bothSeeVideo(tutor.page, student.page);
  await tutor.page.getByTestId('control-end').click();
  for (const p of [tutor, student]) {
    const ended = p.page.locator('[data-testid="ended-screen"][data-reason="ended"]');
    await ended.waitFor({ timeout: 10_000 });
    const text = (await ended.textContent()) ?? '';
    if (!/tutor ended the lesson/i.test(text)) throw new Error(`${p.name} sees: ${text}`);
  }
  await shot(student.page, 'ended');
});

// Every test fails on a CSP violation or a page error in any of its pages (fixtures.ts); this one checks the policy is there at all.
test('no Content-Security-Policy violations and no page errors along the way: the app is served with a script CSP', async ({ env, request }) => {
  const header = (await request.get(`${env.WEB_URL}/`)).headers()['content-security-policy'] ?? '';
  if (!header.includes("script-src 'self'")) throw new Error(`the app is served without a script CSP: ${header}`);
});
