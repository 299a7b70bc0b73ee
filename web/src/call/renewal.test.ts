import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CredentialRenewal } from './renewal';

describe('CredentialRenewal', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('drops the socket at 80 % of the TTL; its first reconnect is no lost connection, and its welcome says it was a renewal', () => {
    let drops = 0;
    const r = new CredentialRenewal(() => {
      drops++;
      return true;
    });
    r.schedule(600);
    vi.advanceTimersByTime(479_999);
    expect(drops).toBe(0);
    vi.advanceTimersByTime(1);
    expect(drops).toBe(1);
    expect(r.isRenewal(1)).toBe(true);
    expect(r.isRenewal(2)).toBe(false); // a renewal that needs a second attempt is a real drop
    expect(r.welcomed()).toBe(true);
    expect(r.welcomed()).toBe(false);
    expect(r.isRenewal(1)).toBe(false);
  });

  it('waits at least 30 s, never for credentials that do not expire, and not once stopped or rescheduled', () => {
    let drops = 0;
    const r = new CredentialRenewal(() => {
      drops++;
      return true;
    });
    r.schedule(10); // 8 s would be too eager
    vi.advanceTimersByTime(29_999);
    expect(drops).toBe(0);
    vi.advanceTimersByTime(1);
    expect(drops).toBe(1);
    r.welcomed();
    r.schedule(0);
    vi.advanceTimersByTime(3_600_000);
    expect(drops).toBe(1);
    r.schedule(100);
    r.schedule(1_000); // the next welcome's credentials replace the timer
    vi.advanceTimersByTime(80_000);
    expect(drops).toBe(1);
    r.stop();
    vi.advanceTimersByTime(1_000_000);
    expect(drops).toBe(1);
  });

  it('a renewal with no call to renew (not in the call, no socket) is none', () => {
    const r = new CredentialRenewal(() => false);
    r.schedule(60);
    vi.advanceTimersByTime(60_000);
    expect(r.isRenewal(1)).toBe(false);
    expect(r.welcomed()).toBe(false);
  });
});
