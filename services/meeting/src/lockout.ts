import { createHash, timingSafeEqual } from 'node:crypto';

export interface LockoutPolicy {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

/** A failure counter as stored per meeting, user and client key (video_passcode_failures). */
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

/**
 * The key passcode failures are counted under. One IPv6 subscriber is normally handed a whole
 * /64, so counting per /128 would let one client rotate addresses and never be locked: IPv6
 * addresses are keyed by their first four hextets. Anything else (IPv4, an opaque key) is kept.
 */
export function lockoutClientKey(key: string): string {
  const ip = key.replace(/^\[|\]$/g, '').split('%')[0] ?? key;
  if (!ip.includes(':')) return key;
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return ip.slice(7);
  const halves = ip.toLowerCase().split('::');
  if (halves.length > 2) return key;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  if ([...head, ...tail].some((h) => !/^[0-9a-f]{1,4}$/.test(h))) return key;
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return key;
  const full = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return `${full
    .slice(0, 4)
    .map((h) => Number.parseInt(h, 16).toString(16))
    .join(':')}::/64`;
}
