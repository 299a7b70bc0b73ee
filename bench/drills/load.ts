/**
 * Steady load for the drill, and its ledger: what each client was told succeeded. Bookings
 * arrive on `booking.confirmed` (retried with the same ce-id until JetStream acknowledges, as a
 * booking system does); lessons join and leave (the tutor over REST, the student over a
 * WebSocket that resumes on the other gateway); REST reads in between. After a fault the checks
 * compare the ledger with what the system holds.
 */
import { randomUUID } from 'node:crypto';
import { publishBookingConfirmed } from '@lessoncall/booking-system';
import { decode } from '@lessoncall/kit';
import { MeetingLinkCreatedSchema } from '@lessoncall/proto';
import type { BenchMeeting } from '../lib/meetings';
import { ResumableSocket } from './peer';
import type { DrillStack } from './stack';

export interface Outcome {
  at: number;
  what: 'booking' | 'rest-join' | 'rest-leave' | 'rest-read' | 'ws-join' | 'ws-leave';
  ok: boolean;
  code?: string;
}

export interface LedgerBooking {
  bookingId: string;
  ceId: string;
  tutorId: string;
  studentId: string;
  ackedAt: number;
}

export interface LedgerSession {
  sessionId: string;
  meetingId: string;
  userId: string;
  via: 'rest' | 'ws';
  joinedAt: number;
  /**
   * When the client first asked to leave. The server may record the leave at that request even
   * when its answer was lost (a 503 after the commit) and a retry was what got confirmed, so the
   * true leave lies between this and `leftAt`.
   */
  leaveAskedAt?: number;
  /** When the leave was confirmed (or given up). */
  leftAt?: number;
  /** open: joined and alive; left: the leave was acknowledged; unacked: the leave failed (the grace ends it); lost: the client could not resume. */
  state: 'open' | 'left' | 'unacked' | 'lost';
}

export class Ledger {
  readonly bookings = new Map<string, LedgerBooking>();
  readonly sessions = new Map<string, LedgerSession>();
  readonly outcomes: Outcome[] = [];
  /** Lessons whose both sessions ended with an acknowledged leave: their attendance must match. */
  readonly finishedLessons: Array<{ meetingId: string; finishedAt: number }> = [];

  record(what: Outcome['what'], ok: boolean, code?: string) {
    this.outcomes.push({ at: Date.now(), what, ok, ...(code ? { code } : {}) });
  }
}

export interface LoadOptions {
  bookingsPerSecond: number;
  lessons: number;
  /** How long a lesson stays joined, ms (random in the range). */
  lessonMs: [number, number];
}

class RequestFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Load {
  readonly ledger = new Ledger();
  /** Meetings of our bookings, learned from meeting.created (as the booking system learns them), not yet used by a lesson. */
  private pool: BenchMeeting[] = [];
  private stopped = false;
  private running: Promise<unknown>[] = [];
  private gw = 0;
  private serviceToken = '';

  constructor(
    private readonly s: DrillStack,
    private readonly options: LoadOptions,
  ) {}

  get gatewayUrls(): string[] {
    return this.s.gateways.map((g) => g.baseUrl);
  }

  async start(): Promise<void> {
    this.serviceToken = await this.s.bookingToken();
    // The passcode comes the way the booking system gets it: meeting_link.created.
    const sub = this.s.h.nc.subscribe('meeting_link.created.>', {
      callback: (err, m) => {
        if (err) return;
        try {
          const e = decode(MeetingLinkCreatedSchema, m.data);
          const b = this.ledger.bookings.get(e.bookingId);
          if (b) this.pool.push({ meetingId: e.meetingId, passcode: e.passcode, tutorId: b.tutorId, studentId: b.studentId });
        } catch {
          // not ours to judge here
        }
      },
    });
    this.running.push(this.bookingLoop());
    for (let i = 0; i < this.options.lessons; i++) this.running.push(this.lessonLoop(i));
    this.running.push(
      (async () => {
        while (!this.stopped) await sleep(500);
        sub.unsubscribe();
      })(),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.running);
  }

  /** A meeting for a call: taken out of the lesson pool, waiting for one if need be. */
  async takeMeeting(timeoutMs = 60_000): Promise<BenchMeeting> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.pool.shift();
      if (m) return m;
      if (Date.now() > deadline) throw new Error('no meeting_link.created for our bookings');
      await sleep(100);
    }
  }

  private async bookingLoop() {
    const interval = 1000 / this.options.bookingsPerSecond;
    let next = Date.now();
    while (!this.stopped) {
      next += interval;
      void this.book();
      await sleep(Math.max(0, next - Date.now()));
    }
  }

  /** One booking, published until JetStream acknowledges it (same ce-id each time), for up to 30 s. */
  private async book() {
    const b = { bookingId: `drill-${randomUUID()}`, tutorId: randomUUID(), studentId: randomUUID() };
    const ceId = randomUUID();
    const deadline = Date.now() + 30_000;
    for (let attempt = 0; Date.now() < deadline && !this.stopped; attempt++) {
      try {
        await publishBookingConfirmed(
          this.s.h.js,
          { ...b, scheduledStart: new Date(Date.now() - 60_000), scheduledEnd: new Date(Date.now() + 2 * 3_600_000) },
          { id: ceId },
        );
        this.ledger.bookings.set(b.bookingId, { ...b, ceId, ackedAt: Date.now() });
        this.ledger.record('booking', true);
        return;
      } catch (err) {
        this.ledger.record('booking', false, (err as { code?: string }).code ?? 'publish_failed');
        await sleep(Math.min(2_000, 200 * 2 ** attempt));
      }
    }
  }

  /** A REST call through "the load balancer": the next gateway, and the other one when this one refuses the connection. */
  async rest(method: 'GET' | 'POST', path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const urls = this.gatewayUrls;
    const first = this.gw++ % urls.length;
    let lastErr: unknown;
    for (let i = 0; i < urls.length; i++) {
      const url = urls[(first + i) % urls.length];
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(10_000),
        });
      } catch (err) {
        lastErr = err;
        continue;
      }
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.status >= 400) throw new RequestFailed(String(json.code ?? res.status), `${method} ${path}: ${res.status} ${String(json.code ?? '')}`);
      return json;
    }
    throw new RequestFailed('unreachable', `${method} ${path}: no gateway answered (${(lastErr as Error)?.message})`);
  }

  private async lessonLoop(worker: number) {
    await sleep(worker * 700);
    while (!this.stopped) {
      const m = this.pool.shift();
      if (!m) {
        await sleep(200);
        continue;
      }
      await this.lesson(m, worker).catch(() => {});
    }
  }

  private async lesson(m: BenchMeeting, worker: number) {
    const L = this.ledger;
    const tutorToken = await this.s.token(m.tutorId);
    const studentToken = await this.s.token(m.studentId);
    // The tutor joins over REST (retried: a lesson waits for its tutor).
    let tutorSession = '';
    // One Idempotency-Key for every try: a join whose answer was lost is answered again, not doubled.
    const joinKey = randomUUID();
    for (let attempt = 0; !tutorSession && !this.stopped && attempt < 20; attempt++) {
      try {
        const r = await this.rest(
          'POST',
          `/api/video/meetings/${m.meetingId}/join`,
          tutorToken,
          { passcode: m.passcode, displayName: 'Tutor' },
          { 'idempotency-key': joinKey },
        );
        tutorSession = String(r.sessionId);
        L.sessions.set(tutorSession, { sessionId: tutorSession, meetingId: m.meetingId, userId: m.tutorId, via: 'rest', joinedAt: Date.now(), state: 'open' });
        L.record('rest-join', true);
      } catch (err) {
        L.record('rest-join', false, (err as RequestFailed).code);
        await sleep(500);
      }
    }
    if (!tutorSession) return;
    // The student over a WebSocket, as the web app.
    const socket = new ResumableSocket(
      {
        gateways: this.s.gateways.map((g) => `ws://127.0.0.1:${g.port}/api/video/ws`),
        accessToken: studentToken,
        meetingId: m.meetingId,
        passcode: m.passcode,
        displayName: 'Student',
      },
      worker,
    );
    let studentSession = '';
    for (let attempt = 0; !studentSession && !this.stopped && attempt < 20; attempt++) {
      try {
        await socket.open();
        studentSession = socket.sessionId;
        L.sessions.set(studentSession, {
          sessionId: studentSession,
          meetingId: m.meetingId,
          userId: m.studentId,
          via: 'ws',
          joinedAt: Date.now(),
          state: 'open',
        });
        L.record('ws-join', true);
      } catch (err) {
        L.record('ws-join', false, (err as { code?: string }).code ?? 'ws_error');
        await sleep(500);
      }
    }
    socket.onLost = () => {
      const s = L.sessions.get(studentSession);
      if (s) s.state = 'lost';
    };
    // The lesson: a few REST reads while both are in.
    const until = Date.now() + this.options.lessonMs[0] + Math.random() * (this.options.lessonMs[1] - this.options.lessonMs[0]);
    while (Date.now() < until && !this.stopped) {
      await sleep(1_000);
      try {
        if (Math.random() < 0.5) await this.rest('GET', `/api/video/meetings/${m.meetingId}`, tutorToken, undefined, { 'x-meeting-passcode': m.passcode });
        else await this.rest('GET', `/api/video/meetings/${m.meetingId}/attendance`, this.serviceToken);
        L.record('rest-read', true);
      } catch (err) {
        L.record('rest-read', false, (err as RequestFailed).code);
      }
    }
    let bothLeft = true;
    if (studentSession) {
      const s = L.sessions.get(studentSession);
      if (s?.state === 'open') s.leaveAskedAt = Date.now();
      const why = s?.state === 'open' ? await socket.leave() : `session_${s?.state}`;
      const ok = why === undefined;
      L.record('ws-leave', ok, why);
      if (s && s.state === 'open') {
        s.state = ok ? 'left' : 'unacked';
        s.leftAt = Date.now();
      }
      bothLeft &&= ok;
    } else socket.close();
    // The tutor's leave is retried until it is acknowledged (a user clicking Leave again).
    const t = L.sessions.get(tutorSession);
    if (t) t.leaveAskedAt = Date.now();
    let left = false;
    for (let attempt = 0; !left && attempt < 10; attempt++) {
      try {
        await this.rest('POST', `/api/video/meetings/${m.meetingId}/leave`, tutorToken, { sessionId: tutorSession });
        left = true;
        L.record('rest-leave', true);
      } catch (err) {
        L.record('rest-leave', false, (err as RequestFailed).code);
        await sleep(500);
      }
    }
    if (t) {
      t.state = left ? 'left' : 'unacked';
      t.leftAt = Date.now();
    }
    if (bothLeft && left && studentSession) L.finishedLessons.push({ meetingId: m.meetingId, finishedAt: Date.now() });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
