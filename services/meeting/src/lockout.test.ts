import { describe, expect, it } from 'vitest';
import { emptyCounter, lockedForSeconds, lockoutClientKey, passcodeMatches, registerFailure } from './lockout';

const policy = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute));

describe('passcode lockout', () => {
  it('counts failures inside the window and locks on the fifth', () => {
    let c = emptyCounter;
    const left: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = registerFailure(c, at(i), policy);
      c = r.counter;
      left.push(r.attemptsLeft);
      expect(r.lockedNow).toBe(i === 4);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    expect(c.lockedUntil).toEqual(at(19));
    expect(lockedForSeconds(c, at(4))).toBe(15 * 60);
    expect(lockedForSeconds(c, at(18))).toBe(60);
    expect(lockedForSeconds(c, at(19))).toBeUndefined();
  });

  it('a failure while locked changes nothing', () => {
    const locked = { failures: 5, windowStartedAt: at(0), lockedUntil: at(20) };
    expect(registerFailure(locked, at(10), policy)).toEqual({ counter: locked, attemptsLeft: 0, lockedNow: false });
  });

  it('starts counting afresh when the window has run out or the lock has expired', () => {
    const old = { failures: 4, windowStartedAt: at(0), lockedUntil: null };
    expect(registerFailure(old, at(14), policy).counter.failures).toBe(5);
    expect(registerFailure(old, at(15), policy)).toMatchObject({ counter: { failures: 1, windowStartedAt: at(15), lockedUntil: null }, attemptsLeft: 4 });
    const expired = { failures: 5, windowStartedAt: at(10), lockedUntil: at(20) };
    expect(registerFailure(expired, at(21), policy)).toMatchObject({ counter: { failures: 1, windowStartedAt: at(21) }, lockedNow: false });
  });

  it('never reports less than a second while locked', () => {
    expect(lockedForSeconds({ failures: 5, windowStartedAt: at(0), lockedUntil: new Date(at(1).getTime() + 10) }, at(1))).toBe(1);
  });

  it('compares passcodes of any length without throwing', () => {
    expect(passcodeMatches('123456', '123456')).toBe(true);
    expect(passcodeMatches('123457', '123456')).toBe(false);
    expect(passcodeMatches('', '123456')).toBe(false);
    expect(passcodeMatches('1234567890', '123456')).toBe(false);
  });
});

describe('lockout client key', () => {
  it('keys IPv6 addresses by their /64, so rotating inside one prefix does not reset the count', () => {
    expect(lockoutClientKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(lockoutClientKey('2001:DB8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(lockoutClientKey('2001:0db8:0001:0002:0:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(lockoutClientKey('2001:db8:1:3::1')).not.toBe(lockoutClientKey('2001:db8:1:2::1'));
    expect(lockoutClientKey('::1')).toBe('0:0:0:0::/64');
  });

  it('keeps IPv4, IPv4-mapped IPv6 as IPv4, and leaves opaque or malformed keys alone', () => {
    expect(lockoutClientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(lockoutClientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(lockoutClientKey('client-42')).toBe('client-42');
    expect(lockoutClientKey('1::2::3')).toBe('1::2::3');
    expect(lockoutClientKey('2001:db8:zz::1')).toBe('2001:db8:zz::1');
  });
});
