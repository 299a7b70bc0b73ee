import { describe, expect, it } from 'vitest';
import { hashResumeToken, mintResumeToken, resumeTokenMatches } from './resume-token';

const secret = 'a-test-secret-that-is-long-enough-000';

describe('resume tokens', () => {
  it('is an HMAC of the session id in base64url, checked against its stored hash only', () => {
    const token = mintResumeToken(secret, 'session-aaaaaaaa');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mintResumeToken(secret, 'session-aaaaaaaa')).toBe(token);
    const stored = hashResumeToken(token);
    expect(stored).not.toContain(token);
    expect(resumeTokenMatches(token, stored)).toBe(true);
  });

  it('rejects another session, another secret, an empty token and a missing hash', () => {
    const stored = hashResumeToken(mintResumeToken(secret, 'session-aaaaaaaa'));
    expect(resumeTokenMatches(mintResumeToken(secret, 'session-bbbbbbbb'), stored)).toBe(false);
    expect(resumeTokenMatches(mintResumeToken(`${secret}x`, 'session-aaaaaaaa'), stored)).toBe(false);
    expect(resumeTokenMatches('', stored)).toBe(false);
    expect(resumeTokenMatches(mintResumeToken(secret, 'session-aaaaaaaa'), null)).toBe(false);
  });
});
