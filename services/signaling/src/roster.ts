import type { Clock } from '@lessoncall/kit';

export interface LiveSessionRef {
  meetingId: string;
  sessionId: string;
}

/** Where a snapshot read began: entries added after it are newer than the snapshot. */
export type SnapshotMark = number;

/**
 * The live sessions of every meeting, as this replica knows them: kept from participant.joined /
 * participant.left and re-read from the participant service (at start-up, after a reconnect,
 * on a miss).
 *
 * Events and snapshots race, so two rules keep them consistent:
 * - a session that left is remembered (a tombstone) for a while, and neither a late joined event
 *   nor a snapshot read before the leave brings it back — session ids are never reused;
 * - a snapshot removes only sessions this replica knew before the snapshot was asked for
 *   (their insertion mark is older), never one whose joined event arrived meanwhile.
 */
export class Roster {
  readonly #clock: Clock;
  readonly #tombstoneTtlMs: number;
  /** meetingId → sessionId → mark when added. */
  readonly #meetings = new Map<string, Map<string, number>>();
  readonly #sessions = new Map<string, string>();
  /** sessionId → when its tombstone expires (epoch ms). */
  readonly #left = new Map<string, number>();
  #mark = 0;

  constructor(clock: Clock, tombstoneTtlMs: number) {
    this.#clock = clock;
    this.#tombstoneTtlMs = tombstoneTtlMs;
  }

  /** Adds a live session; false (and nothing changes) when the session has already left. */
  join(meetingId: string, sessionId: string): boolean {
    if (this.hasLeft(sessionId)) return false;
    const previous = this.#sessions.get(sessionId);
    if (previous !== undefined && previous !== meetingId) this.#remove(previous, sessionId);
    let sessions = this.#meetings.get(meetingId);
    if (!sessions) {
      sessions = new Map();
      this.#meetings.set(meetingId, sessions);
    }
    sessions.set(sessionId, ++this.#mark);
    this.#sessions.set(sessionId, meetingId);
    return true;
  }

  /** Removes a session for good (for the tombstone's lifetime). */
  leave(meetingId: string, sessionId: string): void {
    const known = this.#sessions.get(sessionId);
    this.#remove(known ?? meetingId, sessionId);
    this.#left.set(sessionId, this.#clock.now().getTime() + this.#tombstoneTtlMs);
  }

  isLive(meetingId: string, sessionId: string): boolean {
    return this.#sessions.get(sessionId) === meetingId;
  }

  /** The meeting a live session belongs to, if this replica knows it. */
  meetingOf(sessionId: string): string | undefined {
    return this.#sessions.get(sessionId);
  }

  hasLeft(sessionId: string): boolean {
    const until = this.#left.get(sessionId);
    return until !== undefined && until > this.#clock.now().getTime();
  }

  sessionsOf(meetingId: string): string[] {
    return [...(this.#meetings.get(meetingId)?.keys() ?? [])];
  }

  /** Call before asking for a snapshot; pass the result to applySnapshot. */
  mark(): SnapshotMark {
    return this.#mark;
  }

  /**
   * Applies a snapshot of live sessions — of every meeting, or of one (`meetingId`). Adds what
   * it lists (unless left since); removes, within its scope, what it does not list and this
   * replica already knew when the snapshot was asked for. Returns what changed.
   */
  applySnapshot(sessions: readonly LiveSessionRef[], mark: SnapshotMark, meetingId?: string): { added: number; removed: number } {
    let added = 0;
    let removed = 0;
    const listed = new Set<string>();
    for (const s of sessions) {
      if (meetingId !== undefined && s.meetingId !== meetingId) continue;
      listed.add(s.sessionId);
      if (this.isLive(s.meetingId, s.sessionId)) continue;
      if (this.join(s.meetingId, s.sessionId)) added++;
    }
    const scope = meetingId === undefined ? [...this.#meetings.entries()] : [[meetingId, this.#meetings.get(meetingId)] as const];
    for (const [mid, entries] of scope) {
      if (!entries) continue;
      for (const [sessionId, addedAt] of [...entries]) {
        if (listed.has(sessionId) || addedAt > mark) continue;
        // Gone from the source of truth: it left while we were not listening.
        this.leave(mid, sessionId);
        removed++;
      }
    }
    return { added, removed };
  }

  /**
   * Forgets what this replica knows of a meeting's live sessions (not its tombstones): for a
   * holder of only some meetings (a gateway) that stopped listening to one, or whose events
   * may have been missed (a reconnect).
   */
  forget(meetingId: string): void {
    for (const sessionId of this.sessionsOf(meetingId)) this.#remove(meetingId, sessionId);
  }

  /** Forgets expired tombstones. */
  sweep(): number {
    const now = this.#clock.now().getTime();
    let n = 0;
    for (const [sessionId, until] of this.#left) {
      if (until <= now) {
        this.#left.delete(sessionId);
        n++;
      }
    }
    return n;
  }

  get size(): { meetings: number; sessions: number; tombstones: number } {
    return { meetings: this.#meetings.size, sessions: this.#sessions.size, tombstones: this.#left.size };
  }

  #remove(meetingId: string, sessionId: string): void {
    const sessions = this.#meetings.get(meetingId);
    if (sessions?.delete(sessionId) && sessions.size === 0) this.#meetings.delete(meetingId);
    if (this.#sessions.get(sessionId) === meetingId) this.#sessions.delete(sessionId);
  }
}
