import { createHash, timingSafeEqual } from 'node:crypto';

export interface LockoutPolicy {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

/** A failure counter as stored per meeting (video_meetings) and per client (video_passcode_failures). */
export interface FailureCounter {
  failures: number;
  windowStartedAt: Date | null;
  lockedUntil: Date | null;
}

export const emptyCounter: FailureCounter = { failures: 0, windowStartedAt: null, lockedUntil: null };

/** Seconds until the lock expires, or undefined when not locked. */
export function lockedForSeconds(counter: FailureCounter, now: Date): number | undefined {
  if (!counter.lockedUntil || counter.lockedUntil <= now) return undefined;
  return Math.max(1, Math.ceil((counter.lockedUntil.getTime() - now.getTime()) / 1000));
}

export interface FailureResult {
  counter: FailureCounter;
  attemptsLeft: number;
  /** This failure set the lock. */
  lockedNow: boolean;
}

/**
 * Counts one wrong passcode. Failures count inside a window that starts with the first one;
 * a window that has run out, or a lock that has expired, starts counting afresh. Reaching the
 * maximum locks for `lockMs`.
 */
export function registerFailure(counter: FailureCounter, now: Date, policy: LockoutPolicy): FailureResult {
  if (lockedForSeconds(counter, now) !== undefined) return { counter, attemptsLeft: 0, lockedNow: false };
  const fresh =
    counter.windowStartedAt === null ||
    now.getTime() - counter.windowStartedAt.getTime() >= policy.windowMs ||
    (counter.lockedUntil !== null && counter.lockedUntil <= now);
  const failures = fresh ? 1 : counter.failures + 1;
  const lockedNow = failures >= policy.maxFailures;
  return {
    counter: {
      failures,
      windowStartedAt: fresh ? now : counter.windowStartedAt,
      lockedUntil: lockedNow ? new Date(now.getTime() + policy.lockMs) : null,
    },
    attemptsLeft: Math.max(0, policy.maxFailures - failures),
    lockedNow,
  };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time: hashing first makes both sides the same length whatever was typed. */
export function passcodeMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}
