import { describe, expect, it } from 'vitest';
import { turnRestCredential } from './credentials';

describe('turnRestCredential', () => {
  it('matches a vector computed independently with openssl', () => {
    // printf %s '1767265200:11111111-1111-4111-8111-111111111111' | openssl dgst -sha1 -hmac 'lessoncall-test-secret' -binary | base64
    const c = turnRestCredential('lessoncall-test-secret', '11111111-1111-4111-8111-111111111111', new Date('2026-01-01T10:00:00Z'), 3600);
    expect(c.username).toBe('1767265200:11111111-1111-4111-8111-111111111111');
    expect(c.credential).toBe('JISF1QbWLySUDZueiukNgawGneA=');
    expect(c.expiresAt.toISOString()).toBe('2026-01-01T11:00:00.000Z');
  });

  it('rounds the expiry down to whole seconds and changes with the secret', () => {
    const a = turnRestCredential('secret-one-0123456789', 'u', new Date('2026-01-01T10:00:00.999Z'), 60);
    const b = turnRestCredential('secret-two-0123456789', 'u', new Date('2026-01-01T10:00:00.999Z'), 60);
    expect(a.username).toBe('1767261660:u');
    expect(a.expiresAt.toISOString()).toBe('2026-01-01T10:01:00.000Z');
    expect(a.credential).not.toBe(b.credential);
  });
});
