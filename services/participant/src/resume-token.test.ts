import { describe, expect, it } from 'vitest';
import { hashResumeToken, mintResumeToken } from './resume-token';

const secret = 'a-test-secret-that-is-long-enough-000';

describe('resume tokens', () => {
  it('is an HMAC of the session id in base64url, checked against its stored hash only', () => {
    const token = mintResumeToken(secret, 'session-aaaaaaaa');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mintResumeToken(secret, 'session-aaaaaaaa')).toBe(token);
    const stored = hashResumeToken(token);
    expect(stored).not.toContain(token);
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(hashResumeToken(token)).toBe(stored);
  });

  it('another session or another secret gives another token, so another digest than the stored one', () => {
    const stored = hashResumeToken(mintResumeToken(secret, 'session-aaaaaaaa'));
    expect(hashResumeToken(mintResumeToken(secret, 'session-bbbbbbbb'))).not.toBe(stored);
    expect(hashResumeToken(mintResumeToken(`${secret}x`, 'session-aaaaaaaa'))).not.toBe(stored);
    expect(hashResumeToken('')).not.toBe(stored);
  });
});
