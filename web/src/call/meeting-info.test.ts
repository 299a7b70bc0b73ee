import { create } from '@bufbuild/protobuf';
import { MeetingSchema } from '@lessoncall/proto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MeetingDetails } from './api';
import { GatewayError } from './errors';
import { joinWindowProblem, MeetingInfo } from './meeting-info';
import type { MeetingView, ParticipantView } from './protocol';

const base: MeetingView = {
  meetingId: 'MID-ABCDEFGHJKMNPQRS',
  title: 'Algebra',
  tutorId: 't',
  studentId: 's',
  tutorName: 'T',
  studentName: 'S',
  status: 'pending',
  scheduledStart: new Date('2030-01-01T10:00:00Z'),
  scheduledEnd: new Date('2030-01-01T11:00:00Z'),
  joinableFrom: new Date('2030-01-01T09:45:00Z'),
  joinableUntil: new Date('2030-01-01T11:15:00Z'),
  mediaMode: 'p2p',
  record: false,
};
const at = (iso: string) => new Date(iso).getTime();

describe('joinWindowProblem', () => {
  it('counts down to the opening of the window', () => {
    expect(joinWindowProblem(base, at('2030-01-01T09:00:00Z'))).toMatchObject({ code: 'meeting_not_started', retryAfterSeconds: 2700 });
  });

  it('lets the user in inside the window', () => {
    expect(joinWindowProblem(base, at('2030-01-01T09:45:00Z'))).toBeUndefined();
    expect(joinWindowProblem({ ...base, status: 'active' }, at('2030-01-01T11:14:59Z'))).toBeUndefined();
  });

  it('says ended after the window or once completed, and cancelled when cancelled', () => {
    expect(joinWindowProblem(base, at('2030-01-01T11:15:00Z'))?.code).toBe('meeting_ended');
    expect(joinWindowProblem({ ...base, status: 'completed' }, at('2030-01-01T10:30:00Z'))?.code).toBe('meeting_ended');
    expect(joinWindowProblem({ ...base, status: 'cancelled' }, at('2030-01-01T10:30:00Z'))?.code).toBe('meeting_cancelled');
  });

  it('trusts the server when it sends no window', () => {
    expect(joinWindowProblem({ ...base, joinableFrom: undefined, joinableUntil: undefined }, at('2029-01-01T00:00:00Z'))).toBeUndefined();
  });
});

const person = (userId: string): ParticipantView => ({
  sessionId: `session-${userId}`,
  userId,
  userType: userId === 't' ? 'tutor' : 'student',
  displayName: userId,
  audioMuted: false,
  cameraOff: false,
  connected: true,
  joinedAt: undefined,
});

describe('MeetingInfo', () => {
  let clock = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = at('2030-01-01T09:50:00Z');
  });
  afterEach(() => vi.useRealTimers());

  /** passcode null: the link had none. */
  function setup(fetch: (passcode: string) => Promise<MeetingDetails>, passcode: string | null = '123456') {
    const asked: string[] = [];
    const info = new MeetingInfo({
      passcode: passcode ?? undefined,
      fetch: (p) => {
        asked.push(p);
        return fetch(p);
      },
      userId: () => 's',
      now: () => clock,
      changed: () => {},
    });
    return { info, asked };
  }

  it('asks for the passcode before it asks the gateway', async () => {
    const { info, asked } = setup(async () => ({ meeting: base, participants: [] }), null);
    await info.reload();
    expect(info.load).toEqual({ status: 'needs-passcode' });
    expect(asked).toEqual([]);
    info.setPasscode('654321');
    await vi.waitFor(() => expect(info.load).toEqual({ status: 'ready' }));
    expect(asked).toEqual(['654321']);
  });

  it('inside the window the lesson is ready, and lists who is already in it but not us', async () => {
    const { info } = setup(async () => ({ meeting: base, participants: [person('t'), person('s')] }));
    await info.reload();
    expect(info.load).toEqual({ status: 'ready' });
    expect(info.meeting?.title).toBe('Algebra');
    expect(info.presentInLobby.map((p) => p.userId)).toEqual(['t']);
  });

  it('before the window counts down, then loads again by itself when it opens', async () => {
    clock = at('2030-01-01T09:44:00Z');
    const { info, asked } = setup(async () => ({ meeting: base, participants: [] }));
    await info.reload();
    expect(info.load).toMatchObject({ status: 'error', error: { code: 'meeting_not_started' }, retryAt: at('2030-01-01T09:45:00Z') });
    clock = at('2030-01-01T09:45:01Z');
    await vi.advanceTimersByTimeAsync(60_250);
    expect(asked).toHaveLength(2);
    expect(info.load).toEqual({ status: 'ready' });
  });

  it('a wrong passcode is the load’s error; closing stops a countdown', async () => {
    const wrong = setup(async () => {
      throw new GatewayError('passcode_invalid', 'wrong passcode', { attemptsLeft: 2 });
    });
    await wrong.info.reload();
    expect(wrong.info.load).toMatchObject({ status: 'error', error: { code: 'passcode_invalid' } });

    const { info, asked } = setup(async () => ({ meeting: base, participants: [] }));
    info.notStarted(new GatewayError('meeting_not_started', 'not yet', { retryAfterSeconds: 30 }));
    info.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(asked).toEqual([]);
  });

  it('a welcome fills in what it sets and leaves the rest as the gateway said', async () => {
    const { info } = setup(async () => ({ meeting: base, participants: [] }));
    await info.reload();
    info.welcome(create(MeetingSchema, { status: 'active', title: '' }));
    expect(info.meeting).toMatchObject({ title: 'Algebra', status: 'active', tutorName: 'T' });
  });
});
