/**
 * The lesson as the lobby knows it: its details and who is already in it (the meeting request,
 * with the passcode), whether it can be joined now — with a countdown to the opening of the
 * join window, after which it loads again by itself — and the meeting fields a welcome brings.
 */
import type { Welcome } from '@lessoncall/proto';
import type { MeetingDetails } from './api';
import { describeError, GatewayError, type UserMessage } from './errors';
import type { MeetingView, ParticipantView } from './protocol';

export type MeetingLoad =
  | { status: 'idle' }
  | { status: 'needs-passcode' }
  | { status: 'loading' }
  | { status: 'ready' }
  /** retryAt: when the countdown ends (not started: the lobby loads again by itself then). */
  | { status: 'error'; error: UserMessage; retryAt: number | undefined };

export interface MeetingInfoOptions {
  passcode: string | undefined;
  /** The meeting request (GET /api/video/meetings/:id with the passcode). */
  fetch: (passcode: string) => Promise<MeetingDetails>;
  /** Our user: not listed among those already in the lesson. */
  userId: () => string | undefined;
  now: () => number;
  changed(): void;
}

export class MeetingInfo {
  private passcodeValue: string | undefined;
  private meetingValue: MeetingView | undefined;
  private loadValue: MeetingLoad = { status: 'idle' };
  private present: ParticipantView[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: MeetingInfoOptions) {
    this.passcodeValue = opts.passcode;
  }

  get passcode(): string | undefined {
    return this.passcodeValue;
  }

  get meeting(): MeetingView | undefined {
    return this.meetingValue;
  }

  get load(): MeetingLoad {
    return this.loadValue;
  }

  /** Who is already in the lesson, from the meeting request. */
  get presentInLobby(): ParticipantView[] {
    return this.present;
  }

  setPasscode(passcode: string): void {
    this.passcodeValue = passcode;
    void this.reload();
  }

  async reload(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!this.passcodeValue) {
      this.loadValue = { status: 'needs-passcode' };
      this.opts.changed();
      return;
    }
    this.loadValue = { status: 'loading' };
    this.opts.changed();
    try {
      const details = await this.opts.fetch(this.passcodeValue);
      this.meetingValue = details.meeting;
      this.present = details.participants.filter((p) => p.userId !== this.opts.userId());
      const closed = joinWindowProblem(details.meeting, this.opts.now());
      this.loadValue = closed ? this.loadError(closed) : { status: 'ready' };
    } catch (err) {
      this.loadValue = this.loadError(err);
    }
    this.opts.changed();
  }

  /** The gateway refused the join because the lesson has not started: the lobby counts down as after a load. */
  notStarted(err: GatewayError): void {
    this.loadValue = this.loadError(err);
  }

  /** A welcome's meeting fields that are set (a partial meeting does not wipe what REST told us). */
  welcome(m: Welcome['meeting']): void {
    if (m) this.meetingValue = { ...(this.meetingValue ?? ({} as MeetingView)), ...withoutEmpty(m) };
  }

  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private loadError(err: unknown): MeetingLoad {
    const error = describeError(err);
    const retryAt = error.retryAfterSeconds ? this.opts.now() + error.retryAfterSeconds * 1000 : undefined;
    if (err instanceof GatewayError && err.code === 'meeting_not_started' && retryAt) {
      // Come back when the window opens (timers far in the future are clamped; the page re-arms them).
      const wait = Math.min(retryAt - this.opts.now() + 250, 2 ** 31 - 1);
      this.retryTimer = setTimeout(() => void this.reload(), wait);
    }
    return { status: 'error', error, retryAt };
  }
}

/**
 * The meeting's own answer to "can I join now?": the lobby knows the window (joinableFrom /
 * joinableUntil, computed by the meeting service) before anyone presses Join, so it can count
 * down instead of letting the user run into meeting_not_started.
 */
export function joinWindowProblem(m: MeetingView, nowMs: number): GatewayError | undefined {
  if (m.status === 'cancelled') return new GatewayError('meeting_cancelled', 'the lesson was cancelled');
  if (m.status === 'completed') return new GatewayError('meeting_ended', 'the lesson has ended');
  if (m.joinableFrom && nowMs < m.joinableFrom.getTime()) {
    return new GatewayError('meeting_not_started', 'the lesson has not started yet', {
      retryAfterSeconds: Math.ceil((m.joinableFrom.getTime() - nowMs) / 1000),
    });
  }
  if (m.joinableUntil && nowMs >= m.joinableUntil.getTime()) return new GatewayError('meeting_ended', 'the lesson has ended');
  return undefined;
}

/** Welcome's meeting fields that are set (so a partial meeting does not wipe what REST told us). */
function withoutEmpty(m: NonNullable<Welcome['meeting']>): Partial<MeetingView> {
  const v: Partial<MeetingView> = {};
  if (m.meetingId) v.meetingId = m.meetingId;
  if (m.title) v.title = m.title;
  if (m.tutorName) v.tutorName = m.tutorName;
  if (m.studentName) v.studentName = m.studentName;
  if (m.tutorId) v.tutorId = m.tutorId;
  if (m.studentId) v.studentId = m.studentId;
  if (m.status) v.status = m.status;
  if (m.scheduledStart) v.scheduledStart = new Date(Number(m.scheduledStart.seconds) * 1000);
  if (m.scheduledEnd) v.scheduledEnd = new Date(Number(m.scheduledEnd.seconds) * 1000);
  return v;
}
