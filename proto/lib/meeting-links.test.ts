import { describe, expect, it } from 'vitest';
import {
  checkMeetingAccessibility,
  extractCredentialsFromUrl,
  generateMeetingCredentials,
  generateMeetingId,
  generateMeetingUrl,
  generatePasscode,
  generateSessionId,
  isIssuedMeetingId,
  isValidMeetingId,
  isValidPasscode,
} from './meeting-links';

describe('meeting ids and passcodes', () => {
  it('generates well-formed, unambiguous, distinct ids', () => {
    const ids = new Set(Array.from({ length: 2_000 }, () => generateMeetingId()));
    expect(ids.size).toBe(2_000);
    for (const id of ids) {
      expect(isValidMeetingId(id)).toBe(true);
      expect(isIssuedMeetingId(id)).toBe(true);
      expect(id.slice(4)).not.toMatch(/[01OIL]/);
    }
  });

  it('draws every passcode digit uniformly from the CSPRNG', () => {
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 5_000; i++) for (const d of generatePasscode()) counts[Number(d)]++;
    for (const c of counts) expect(c).toBeGreaterThan(2_500); // 3,000 expected each
    expect(isValidPasscode(generatePasscode())).toBe(true);
  });

  it('uses the given random source (deterministic in tests)', () => {
    const zeros = (b: Uint8Array) => b.fill(0);
    expect(generateMeetingId(zeros)).toBe('MID-AAAAAAAAAAAAAAAA');
    expect(generatePasscode(zeros)).toBe('000000');
    expect(generateMeetingCredentials(zeros)).toEqual({ meetingId: 'MID-AAAAAAAAAAAAAAAA', passcode: '000000' });
    expect(generateSessionId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('rejects malformed ids and passcodes', () => {
    for (const bad of ['', 'MID-', 'MID-abcdefghijklmnop', 'MID-ABCDEFGHJKMNPQR', 'XID-ABCDEFGHJKMNPQRS', 'MID-ABCDEFGHJKMNPQRS ', 42, null]) {
      expect(isValidMeetingId(bad)).toBe(false);
    }
    for (const bad of ['12345', '1234567', 'abcdef', ' 123456', 123456]) expect(isValidPasscode(bad)).toBe(false);
  });
});

describe('meeting links', () => {
  it('round-trips through the URL, with or without a base path', () => {
    const url = generateMeetingUrl('https://lessons.example.com/app/', 'MID-ABCDEFGHJKMNPQRS', '012345');
    // In the fragment, which a browser never sends to a server.
    expect(url).toBe('https://lessons.example.com/app/meet/MID-ABCDEFGHJKMNPQRS#pwd=012345');
    expect(new URL(url).search).toBe('');
    expect(extractCredentialsFromUrl(url)).toEqual({ meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: '012345' });
    // Links issued before the fragment form still work.
    expect(extractCredentialsFromUrl('https://x.test/meet/MID-ABCDEFGHJKMNPQRS?pwd=654321')).toEqual({ meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: '654321' });
    expect(extractCredentialsFromUrl('/meet/MID-ABCDEFGHJKMNPQRS?relay=1#pwd=111222')).toEqual({ meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: '111222' });
    expect(extractCredentialsFromUrl('/meet/mid-abcdefghjkmnpqrs')).toEqual({ meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: undefined });
  });

  it('returns nothing for links that are not meeting links and drops a bad passcode', () => {
    expect(extractCredentialsFromUrl('https://x.test/other/MID-ABCDEFGHJKMNPQRS')).toBeUndefined();
    expect(extractCredentialsFromUrl('https://x.test/meet/MID-SHORT?pwd=123456')).toBeUndefined();
    expect(extractCredentialsFromUrl('https://x.test/meet/MID-ABCDEFGHJKMNPQRS?pwd=12')).toEqual({ meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: undefined });
    expect(() => generateMeetingUrl('ftp://x', 'MID-ABCDEFGHJKMNPQRS', '123456')).toThrow();
    expect(() => generateMeetingUrl('https://x', 'nope', '123456')).toThrow();
  });
});

describe('join window', () => {
  const m = { status: 'pending', scheduledStart: new Date('2026-12-01T10:00:00Z'), scheduledEnd: new Date('2026-12-01T11:00:00Z') };
  it('opens 15 minutes before the start and closes 15 minutes after the end', () => {
    const early = checkMeetingAccessibility(m, new Date('2026-12-01T09:44:00Z'));
    expect(early).toMatchObject({ ok: false, code: 'meeting_not_started', retryAfterSeconds: 60 });
    expect(checkMeetingAccessibility(m, new Date('2026-12-01T09:45:00Z'))).toEqual({ ok: true });
    expect(checkMeetingAccessibility(m, new Date('2026-12-01T11:14:59Z'))).toEqual({ ok: true });
    expect(checkMeetingAccessibility(m, new Date('2026-12-01T11:15:00Z'))).toEqual({ ok: false, code: 'meeting_ended' });
  });
  it('is never joinable when cancelled or completed', () => {
    const at = new Date('2026-12-01T10:30:00Z');
    expect(checkMeetingAccessibility({ ...m, status: 'cancelled' }, at)).toEqual({ ok: false, code: 'meeting_cancelled' });
    expect(checkMeetingAccessibility({ ...m, status: 'completed' }, at)).toEqual({ ok: false, code: 'meeting_ended' });
  });
});
