/**
 * What the drill checks after each fault, against the load generator's ledger: bookings (one
 * meeting row and one meeting.created each), sessions (none open that was left, none closed
 * that was alive), attendance (the service's totals against the lessons' own clocks), calls
 * (media and signaling flowing again, and when), errors in the window, crashes.
 */
import { decode } from '@lessoncall/kit';
import { MeetingCreatedSchema, streams } from '@lessoncall/proto';
import type { Call } from './calls';
import type { Load } from './load';
import { sleep } from './load';
import type { DrillStack } from './stack';

export interface BookingCheck {
  checked: number;
  lost: number;
  doubled: number;
  eventsLost: number;
  eventsDoubled: number;
  /** How long after the fault ended the last acknowledged booking had its meeting. */
  convergedMs: number | null;
}

/** Every meeting.created in the MEETINGS stream, counted per booking id. */
async function createdEvents(s: DrillStack): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const c = await s.h.js.consumers.get(streams.meetings.name, { filter_subjects: 'meeting.created.>' });
  for (;;) {
    const batch = await c.fetch({ max_messages: 5_000, expires: 2_000 });
    let n = 0;
    let pending = 0;
    for await (const m of batch) {
      n++;
      pending = m.info.pending;
      const id = decode(MeetingCreatedSchema, m.data).meeting?.bookingId ?? '';
      counts.set(id, (counts.get(id) ?? 0) + 1);
      if (pending === 0) break;
    }
    if (n === 0 || pending === 0) return counts;
  }
}

/**
 * Waits (up to `timeoutMs`) for every booking the ledger holds as acknowledged to have its
 * meeting, then counts what is missing or doubled, in the table and on the bus.
 */
export async function checkBookings(s: DrillStack, load: Load, healedAt: number, timeoutMs: number): Promise<BookingCheck> {
  const db = s.h.db;
  if (!db) throw new Error('no database');
  const ids = [...load.ledger.bookings.keys()];
  const deadline = Date.now() + timeoutMs;
  let rows = new Map<string, number>();
  let convergedMs: number | null = null;
  for (;;) {
    const r = await db.asService((tx) =>
      tx.query<{ booking_id: string; n: string }>('select booking_id, count(*) as n from video_meetings where booking_id = any($1) group by booking_id', [ids]),
    );
    rows = new Map(r.rows.map((x) => [x.booking_id, Number(x.n)]));
    if (ids.every((id) => rows.has(id))) {
      convergedMs = Math.max(0, Date.now() - healedAt);
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  // The event follows the row (outbox); give it the same deadline.
  let events = await createdEvents(s);
  while (ids.some((id) => !events.has(id)) && Date.now() < deadline) {
    await sleep(1_000);
    events = await createdEvents(s);
  }
  return {
    checked: ids.length,
    lost: ids.filter((id) => !rows.has(id)).length,
    doubled: ids.filter((id) => (rows.get(id) ?? 0) > 1).length,
    eventsLost: ids.filter((id) => !events.has(id)).length,
    eventsDoubled: ids.filter((id) => (events.get(id) ?? 0) > 1).length,
    convergedMs,
  };
}

export interface SessionCheck {
  checked: number;
  /** Left with an acknowledgement, still open in the table. */
  openButLeft: number;
  /** Alive on the client, closed in the table. */
  closedButAlive: number;
  /** Told it joined, no row at all. */
  missing: number;
  /** Client lost its session (resume refused): the system closed a live session. */
  lostByClient: number;
}

export async function checkSessions(s: DrillStack, load: Load): Promise<SessionCheck> {
  const db = s.h.db;
  if (!db) throw new Error('no database');
  const sessions = [...load.ledger.sessions.values()];
  const r = await db.asService((tx) =>
    tx.query<{ session_id: string; left_at: Date | null }>('select session_id, left_at from video_participants where session_id = any($1)', [
      sessions.map((x) => x.sessionId),
    ]),
  );
  const rows = new Map(r.rows.map((x) => [x.session_id, x]));
  let openButLeft = 0;
  let closedButAlive = 0;
  let missing = 0;
  for (const x of sessions) {
    const row = rows.get(x.sessionId);
    if (!row) missing++;
    else if (x.state === 'left' && row.left_at === null) openButLeft++;
    else if (x.state === 'open' && row.left_at !== null) closedButAlive++;
  }
  return { checked: sessions.length, openButLeft, closedButAlive, missing, lostByClient: sessions.filter((x) => x.state === 'lost').length };
}

export interface AttendanceCheck {
  lessons: number;
  /** Entries whose session count differs from the ledger's. */
  sessionMismatches: number;
  /** Largest distance of any entry's connected seconds from what the lesson's own clock allows (each leave between asked and confirmed). */
  maxErrorSeconds: number;
  /** For the first lessons that disagree: the ledger's sessions beside the table's, so a failed run says why. */
  disagreements?: string[];
}

/** Attendance further off than this from the lesson's own clock is wrong. */
export const attendanceToleranceSeconds = 2;

/** A time in seconds after `t0` (both epoch ms), for the disagreements' lines. */
const after = (t0: number, t: number | undefined) => (t === undefined ? '–' : ((t - t0) / 1000).toFixed(1));

/** A lesson's sessions as the table holds them, times relative to the lesson's first join. */
async function sessionsOf(s: DrillStack, meetingId: string, t0: number): Promise<string> {
  const r = await s.h.db?.asService((tx) =>
    tx.query<{ session_id: string; user_id: string; joined_at: Date; left_at: Date | null; left_reason: string | null; disconnected_at: Date | null }>(
      'select session_id, user_id, joined_at, left_at, left_reason, disconnected_at from video_participants where meeting_id = $1 order by joined_at',
      [meetingId],
    ),
  );
  const at = (d: Date | null) => after(t0, d?.getTime());
  return (r?.rows ?? [])
    .map(
      (x) =>
        `${x.user_id.slice(0, 8)} ${x.session_id.slice(0, 8)} ${at(x.joined_at)}→${at(x.left_at)} ${x.left_reason ?? 'open'}${x.disconnected_at ? ` gone ${at(x.disconnected_at)}` : ''}`,
    )
    .join('; ');
}

/** Attendance of the lessons finished since `since`, each compared with the ledger's join and leave times. */
export async function checkAttendance(s: DrillStack, load: Load, serviceToken: string, since: number, limit = 20): Promise<AttendanceCheck> {
  const lessons = load.ledger.finishedLessons.filter((l) => l.finishedAt >= since).slice(-limit);
  let sessionMismatches = 0;
  let maxErrorSeconds = 0;
  const disagreements: string[] = [];
  for (const l of lessons) {
    let wrong = false;
    const body = (await load.rest('GET', `/api/video/meetings/${l.meetingId}/attendance`, serviceToken)) as {
      attendance?: { entries?: Array<{ userId: string; connectedSeconds?: number; sessions?: number }> };
    };
    const ours = [...load.ledger.sessions.values()].filter((x) => x.meetingId === l.meetingId);
    for (const userId of new Set(ours.map((x) => x.userId))) {
      const mine = ours.filter((x) => x.userId === userId);
      const entry = body.attendance?.entries?.find((e) => e.userId === userId);
      if ((entry?.sessions ?? 0) !== mine.length) {
        sessionMismatches++;
        wrong = true;
      }
      // The ledger knows each leave to within [asked, confirmed]: the error is the distance from that range.
      const latest = mine.reduce((a, x) => a + ((x.leftAt ?? x.joinedAt) - x.joinedAt) / 1000, 0);
      const earliest = mine.reduce((a, x) => a + ((x.leaveAskedAt ?? x.leftAt ?? x.joinedAt) - x.joinedAt) / 1000, 0);
      const got = entry?.connectedSeconds ?? 0;
      const error = got < earliest ? earliest - got : got > latest ? got - latest : 0;
      if (error > attendanceToleranceSeconds) wrong = true;
      maxErrorSeconds = Math.max(maxErrorSeconds, error);
    }
    if (wrong && disagreements.length < 3) {
      const t0 = Math.min(...ours.map((x) => x.joinedAt));
      const at = (t: number | undefined) => after(t0, t);
      const ledger = ours
        .map((x) => `${x.userId.slice(0, 8)} ${x.sessionId.slice(0, 8)} ${at(x.joinedAt)}→${at(x.leaveAskedAt)}..${at(x.leftAt)} ${x.state}`)
        .join('; ');
      disagreements.push(
        `${l.meetingId}: ledger [${ledger}] table [${await sessionsOf(s, l.meetingId, t0)}] service ${JSON.stringify(body.attendance?.entries ?? [])}`,
      );
    }
  }
  return {
    lessons: lessons.length,
    sessionMismatches,
    maxErrorSeconds: Math.round(maxErrorSeconds * 10) / 10,
    ...(disagreements.length ? { disagreements } : {}),
  };
}

/** Samples of every call peer, taken every 200 ms for the whole drill. */
export class CallSampler {
  readonly samples = new Map<string, Array<{ t: number; lastFrameAt: number; lastProbeAt: number; protocol: string }>>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly calls: () => Call[]) {}

  start() {
    this.timer = setInterval(async () => {
      if (this.busy) return;
      this.busy = true;
      try {
        await Promise.all(
          this.calls().flatMap((c) =>
            c.peers.map(async (p) => {
              const snap = await p.snapshot().catch(() => undefined);
              if (!snap) return;
              const list = this.samples.get(p.name) ?? [];
              list.push({ t: Date.now(), lastFrameAt: snap.lastFrameAt, lastProbeAt: snap.lastProbeAt, protocol: snap.selectedRelayProtocol });
              this.samples.set(p.name, list);
            }),
          ),
        );
      } finally {
        this.busy = false;
      }
    }, 200);
  }

  stop() {
    clearInterval(this.timer);
  }

  /**
   * For one kind of arrival in [from, to]: when the first stall began (detection), how long
   * after `healedAt` every peer had arrivals again (back), and peers still stalled at `to`.
   */
  recovery(kind: 'lastFrameAt' | 'lastProbeAt', from: number, healedAt: number, to: number, stallMs: number) {
    let firstStall: number | undefined;
    let back = 0;
    const stuck: string[] = [];
    let longestGapMs = 0;
    for (const [name, list] of this.samples) {
      const inWindow = list.filter((x) => x.t >= from && x.t <= to);
      if (inWindow.length === 0) continue;
      let stalledUntil: number | undefined;
      let lastStalled = false;
      for (const x of inWindow) {
        const stalled = x.t - x[kind] > stallMs;
        if (stalled) {
          firstStall = Math.min(firstStall ?? Number.POSITIVE_INFINITY, Math.max(from, x[kind]));
          longestGapMs = Math.max(longestGapMs, x.t - Math.max(from, x[kind]));
        } else if (lastStalled) stalledUntil = x[kind];
        lastStalled = stalled;
      }
      if (lastStalled) stuck.push(name);
      else if (stalledUntil !== undefined) back = Math.max(back, stalledUntil - healedAt);
    }
    return {
      detectionMs: firstStall === undefined ? null : Math.round(firstStall - from),
      backMs: stuck.length > 0 ? null : Math.max(0, Math.round(back)),
      longestGapMs: Math.round(longestGapMs),
      stuck,
    };
  }

  /** Relay protocol each peer used last within the window. */
  protocols(from: number, to: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, list] of this.samples) {
      const last = list.filter((x) => x.t >= from && x.t <= to).at(-1);
      if (last) out[name] = last.protocol;
    }
    return out;
  }
}

/** Requests in [from, to] by outcome, with the codes of the failures. */
export function errorsIn(load: Load, from: number, to: number) {
  const inWindow = load.ledger.outcomes.filter((o) => o.at >= from && o.at <= to);
  const failed = inWindow.filter((o) => !o.ok);
  const codes: Record<string, number> = {};
  for (const f of failed) codes[`${f.what}:${f.code ?? '?'}`] = (codes[`${f.what}:${f.code ?? '?'}`] ?? 0) + 1;
  return { requests: inWindow.length, failed: failed.length, firstFailureAt: failed[0]?.at, codes };
}
