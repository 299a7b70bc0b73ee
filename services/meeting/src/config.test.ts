import { describe, expect, it } from 'vitest';
import { ConfigError } from '@lessoncall/kit';
import { loadMeetingConfig } from './config';

describe('meeting config', () => {
  it('has the documented defaults', () => {
    const c = loadMeetingConfig({ DATABASE_URL: 'postgres://x@localhost/db' });
    expect(c).toMatchObject({ JOIN_LEAD_MINUTES: 15, JOIN_GRACE_MINUTES: 15, PASSCODE_MAX_FAILURES: 5, SWEEP_INTERVAL_MS: 30_000 });
  });

  it('names every bad key in one error, and only those', () => {
    let error: unknown;
    try {
      loadMeetingConfig({ DATABASE_URL: 'mysql://x', PUBLIC_BASE_URL: 'ftp://x', PASSCODE_MAX_FAILURES: '0' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).problems.map((p) => p.split(/[: ]/)[0]);
    expect(keys.sort()).toEqual(['DATABASE_URL', 'PASSCODE_MAX_FAILURES', 'PUBLIC_BASE_URL']);
  });
});
