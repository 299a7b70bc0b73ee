import { type Clock, type Db, type Logger, ServiceError } from '@lessoncall/kit';
import { type FailureCounter, type LockoutPolicy, emptyCounter, lockedForSeconds, lockoutClientKey, passcodeMatches, registerFailure } from './lockout';
import type { MeetingMetrics } from './metrics';
import type { MeetingRow } from './model';

interface CounterRow {
  failures: number;
  window_started_at: Date;
  locked_until: Date | null;
}

const toCounter = (row: CounterRow | undefined): FailureCounter =>
  row ? { failures: row.failures, windowStartedAt: row.window_started_at, lockedUntil: row.locked_until } : emptyCounter;

/** The key of a check that came without one (a caller other than the gateway): one shared counter per user. */
export const noClientKey = '-';

function lockedError(meetingId: string, retryAfterSeconds: number): ServiceError {
  return new ServiceError('passcode_locked', 'too many wrong passcodes: try again later', { meetingId, retryAfterSeconds });
}

type Verdict = { kind: 'ok' } | { kind: 'locked'; seconds: number } | { kind: 'failed'; attemptsLeft: number; lockedNow: boolean };

/**
 * Passcode checks with lockout, counted per (meeting, user, client key) in Postgres so every
 * replica sees them: one party's typos never lock the other party, nor the same user on another
 * network. Every verdict, right or wrong, is decided in the transaction that holds the
 * counter's row lock, never from a row read before it: of any number of concurrent guesses, at
 * most the maximum are judged, and everything after the lock is refused, the right passcode too.
 *
 * A right passcode does not clear the count: failures expire with their window. Clearing would
 * grant a fresh allowance after every right try, so "at most N wrong guesses judged per key and
 * window" would no longer hold whatever the interleaving.
 */
export class Passcodes {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #policy: LockoutPolicy;
  readonly #metrics: MeetingMetrics;
  readonly #logger: Logger;

  constructor(deps: { db: Db; clock: Clock; policy: LockoutPolicy; metrics: MeetingMetrics; logger: Logger }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#policy = deps.policy;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
  }

  /** Resolves when `passcode` is right; throws passcode_locked or passcode_invalid otherwise. */
  async check(meeting: Pick<MeetingRow, 'meeting_id' | 'passcode'>, userId: string, passcode: string, rawClientKey: string | undefined): Promise<void> {
    const meetingId = meeting.meeting_id;
    const key = [meetingId, userId, rawClientKey === undefined ? noClientKey : lockoutClientKey(rawClientKey)];
    // The comparison needs no lock (a meeting's passcode never changes); the verdict does.
    const matches = passcodeMatches(passcode, meeting.passcode);
    const now = this.#clock.now();
    const verdict = await this.#db.asService(async (tx): Promise<Verdict> => {
      const where = 'meeting_id = $1 and user_id = $2 and client_key = $3';
      if (matches) {
        // No row means no failures: nothing to lock, nothing can be locked.
        const { rows } = await tx.query<CounterRow>(
          `select failures, window_started_at, locked_until from video_passcode_failures where ${where} for update`,
          key,
        );
        const locked = lockedForSeconds(toCounter(rows[0]), now);
        return locked === undefined ? { kind: 'ok' } : { kind: 'locked', seconds: locked };
      }
      // A wrong guess creates its counter or locks the existing one, in one statement: two first
      // failures at once cannot both start from zero (the second waits on the key, then locks).
      const { rows } = await tx.query<CounterRow>(
        `insert into video_passcode_failures as f (meeting_id, user_id, client_key, failures, window_started_at) values ($1, $2, $3, 0, $4)
         on conflict (meeting_id, user_id, client_key) do update set failures = f.failures
         returning failures, window_started_at, locked_until`,
        [...key, now],
      );
      const current = toCounter(rows[0]);
      const locked = lockedForSeconds(current, now);
      if (locked !== undefined) return { kind: 'locked', seconds: locked };
      const r = registerFailure(current, now, this.#policy);
      await tx.query(`update video_passcode_failures set failures = $4, window_started_at = $5, locked_until = $6 where ${where}`, [
        ...key,
        r.counter.failures,
        r.counter.windowStartedAt,
        r.counter.lockedUntil,
      ]);
      return { kind: 'failed', attemptsLeft: r.attemptsLeft, lockedNow: r.lockedNow };
    });
    if (verdict.kind === 'ok') return;
    if (verdict.kind === 'locked') {
      this.#metrics.passcodeLockedRefusals.add(1);
      throw lockedError(meetingId, verdict.seconds);
    }
    this.#metrics.passcodeFailures.add(1);
    if (verdict.lockedNow) {
      this.#metrics.passcodeLocks.add(1, { scope: 'client' });
      this.#logger.warn({ meetingId }, 'passcode entry locked for one user and client after repeated failures');
    }
    throw new ServiceError('passcode_invalid', 'wrong passcode', { meetingId, attemptsLeft: verdict.attemptsLeft });
  }
}
