/** One session as attendance sees it. */
export interface SessionSpan {
  userId: string;
  userType: string;
  joinedAt: Date;
  leftAt: Date | null;
  connected: boolean;
  disconnectedAt: Date | null;
  reconnects: number;
}

export interface UserAttendance {
  userId: string;
  userType: string;
  firstJoinedAt: Date | undefined;
  /** Unset while the user still has a live session. */
  lastLeftAt: Date | undefined;
  connectedSeconds: number;
  sessions: number;
  reconnects: number;
}

/**
 * When a session stopped counting: the moment its socket went away if it did (a session that
 * timed out, or was closed while its socket was gone, was not attended during its grace period),
 * else when it was closed, else now.
 */
export function effectiveEnd(s: SessionSpan, now: Date): Date {
  const end = !s.connected && s.disconnectedAt ? s.disconnectedAt : (s.leftAt ?? now);
  return new Date(Math.max(end.getTime(), s.joinedAt.getTime()));
}

/**
 * Per-user attendance of one meeting. The tutor and the student always get an entry (zero
 * sessions: never joined), so that a no-show is visible in the same record as a lesson held.
 *
 * - connected time: the union of the user's session intervals, so two tabs open at once count once;
 *   a socket blip that resumed within the grace period counts as connected;
 * - reconnects: resumes of a session, plus every time the user came back with a new session after
 *   having had none (a second tab opened while the first is connected is not a reconnect).
 */
export function computeAttendance(
  meeting: { tutorId: string; studentId: string; studentIds?: readonly string[] },
  sessions: readonly SessionSpan[],
  now: Date,
): UserAttendance[] {
  const byUser = new Map<string, SessionSpan[]>();
  for (const s of sessions) {
    const list = byUser.get(s.userId);
    if (list) list.push(s);
    else byUser.set(s.userId, [s]);
  }
  // The tutor, every student in the group's order (present or not), then anybody else.
  const people = [meeting.tutorId, ...(meeting.studentIds?.length ? meeting.studentIds : [meeting.studentId])];
  const order = [...people, ...[...byUser.keys()].filter((u) => !people.includes(u)).sort()];
  return order.map((userId) => {
    const own = byUser.get(userId) ?? [];
    const userType = own[0]?.userType ?? (userId === meeting.tutorId ? 'tutor' : 'student');
    if (own.length === 0) {
      return { userId, userType, firstJoinedAt: undefined, lastLeftAt: undefined, connectedSeconds: 0, sessions: 0, reconnects: 0 };
    }
    const spans = own.map((s) => ({ start: s.joinedAt.getTime(), end: effectiveEnd(s, now).getTime() })).sort((a, b) => a.start - b.start);
    let totalMs = 0;
    let stretches = 0;
    let current: { start: number; end: number } | undefined;
    for (const span of spans) {
      if (current && span.start <= current.end) {
        current.end = Math.max(current.end, span.end);
        continue;
      }
      if (current) totalMs += current.end - current.start;
      current = { ...span };
      stretches++;
    }
    if (current) totalMs += current.end - current.start;
    const live = own.some((s) => s.leftAt === null);
    return {
      userId,
      userType,
      firstJoinedAt: new Date(spans[0]!.start),
      lastLeftAt: live ? undefined : new Date(Math.max(...spans.map((s) => s.end))),
      connectedSeconds: Math.floor(totalMs / 1000),
      sessions: own.length,
      reconnects: own.reduce((n, s) => n + s.reconnects, 0) + stretches - 1,
    };
  });
}
