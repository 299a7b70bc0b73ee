import { type Clock, type Db, type Logger, ServiceError } from '@lessoncall/kit';
import { type FailureCounter, type LockoutPolicy, emptyCounter, lockedForSeconds, lockoutClientKey, passcodeMatches, registerFailure } from './lockout';
import type { MeetingMetrics } from './metrics';
import type { MeetingRow } from './model';

interface ClientRow {
  failures: number;
  window_started_at: Date;
  locked_until: Date | null;
}

const meetingCounter = (row: Pick<MeetingRow, 'failed_passcode_attempts' | 'passcode_window_started_at' | 'locked_until'>): FailureCounter => ({
  failures: row.failed_passcode_attempts,
  windowStartedAt: row.passcode_window_started_at,
  lockedUntil: row.locked_until,
});

const clientCounter = (row: ClientRow | undefined): FailureCounter =>
  row ? { failures: row.failures, windowStartedAt: row.window_started_at, lockedUntil: row.locked_until } : emptyCounter;

function lockedError(meetingId: string, retryAfterSeconds: number): ServiceError {
  return new ServiceError('passcode_locked', 'too many wrong passcodes: try again later', { meetingId, retryAfterSeconds });
}

/**
 * Passcode checks with lockout. Failures are counted per meeting and per client key in
 * Postgres, so every replica sees them; after the maximum inside the window, checks are
 * refused until the lock expires, whether or not the next passcode is right.
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
  async check(meeting: MeetingRow, passcode: string, rawClientKey: string | undefined): Promise<void> {
    const clientKey = rawClientKey === undefined ? undefined : lockoutClientKey(rawClientKey);
    const now = this.#clock.now();
    const meetingId = meeting.meeting_id;
    const client = clientKey ? await this.#clientRow(meetingId, clientKey) : undefined;
    const locked = lockedForSeconds(meetingCounter(meeting), now) ?? lockedForSeconds(clientCounter(client), now);
    if (locked !== undefined) {
      this.#metrics.passcodeLockedRefusals.inc();
      throw lockedError(meetingId, locked);
    }
    if (passcodeMatches(passcode, meeting.passcode)) {
      if (meeting.failed_passcode_attempts > 0 || (client?.failures ?? 0) > 0) await this.#reset(meetingId, clientKey);
      return;
    }
    await this.#fail(meetingId, clientKey);
  }

  async #clientRow(meetingId: string, clientKey: string): Promise<ClientRow | undefined> {
    const { rows } = await this.#db.autocommit.query<ClientRow>(
      'select failures, window_started_at, locked_until from video_passcode_failures where meeting_id = $1 and client_key = $2',
      [meetingId, clientKey],
    );
    return rows[0];
  }

  async #reset(meetingId: string, clientKey: string | undefined): Promise<void> {
    await this.#db.asService(async (tx) => {
      await tx.query(
        `update video_meetings set failed_passcode_attempts = 0, passcode_window_started_at = null, locked_until = null
         where meeting_id = $1 and failed_passcode_attempts > 0`,
        [meetingId],
      );
      if (clientKey) await tx.query('delete from video_passcode_failures where meeting_id = $1 and client_key = $2', [meetingId, clientKey]);
    });
  }

  async #fail(meetingId: string, clientKey: string | undefined): Promise<never> {
    const now = this.#clock.now();
    // The meeting row lock serialises concurrent failures of one meeting, so none is lost.
    const outcome = await this.#db.asService(async (tx) => {
      const { rows } = await tx.query<MeetingRow>(
        'select failed_passcode_attempts, passcode_window_started_at, locked_until from video_meetings where meeting_id = $1 for update',
        [meetingId],
      );
      const current = rows[0];
      if (!current) return { kind: 'locked' as const, seconds: 1 };
      const client = clientKey
        ? (
            await tx.query<ClientRow>(
              'select failures, window_started_at, locked_until from video_passcode_failures where meeting_id = $1 and client_key = $2',
              [meetingId, clientKey],
            )
          ).rows[0]
        : undefined;
      // Locked by a concurrent failure since we looked.
      const locked = lockedForSeconds(meetingCounter(current), now) ?? lockedForSeconds(clientCounter(client), now);
      if (locked !== undefined) return { kind: 'locked' as const, seconds: locked };
      const m = registerFailure(meetingCounter(current), now, this.#policy);
      await tx.query('update video_meetings set failed_passcode_attempts = $2, passcode_window_started_at = $3, locked_until = $4 where meeting_id = $1', [
        meetingId,
        m.counter.failures,
        m.counter.windowStartedAt,
        m.counter.lockedUntil,
      ]);
      let attemptsLeft = m.attemptsLeft;
      let clientLockedNow = false;
      if (clientKey) {
        const c = registerFailure(clientCounter(client), now, this.#policy);
        await tx.query(
          `insert into video_passcode_failures (meeting_id, client_key, failures, window_started_at, locked_until) values ($1, $2, $3, $4, $5)
           on conflict (meeting_id, client_key) do update
             set failures = excluded.failures, window_started_at = excluded.window_started_at, locked_until = excluded.locked_until`,
          [meetingId, clientKey, c.counter.failures, c.counter.windowStartedAt, c.counter.lockedUntil],
        );
        attemptsLeft = Math.min(attemptsLeft, c.attemptsLeft);
        clientLockedNow = c.lockedNow;
      }
      return { kind: 'failed' as const, attemptsLeft, meetingLockedNow: m.lockedNow, clientLockedNow };
    });
    if (outcome.kind === 'locked') {
      this.#metrics.passcodeLockedRefusals.inc();
      throw lockedError(meetingId, outcome.seconds);
    }
    this.#metrics.passcodeFailures.inc();
    if (outcome.meetingLockedNow) this.#metrics.passcodeLocks.inc({ scope: 'meeting' });
    if (outcome.clientLockedNow) this.#metrics.passcodeLocks.inc({ scope: 'client' });
    if (outcome.meetingLockedNow || outcome.clientLockedNow) {
      this.#logger.warn({ meetingId, scope: outcome.meetingLockedNow ? 'meeting' : 'client' }, 'passcode entry locked after repeated failures');
    }
    throw new ServiceError('passcode_invalid', 'wrong passcode', { meetingId, attemptsLeft: outcome.attemptsLeft });
  }
}
