import { describe, expect, it } from 'vitest';
import { parseDuration, parseEnvFile } from './client';

describe('booking command helpers', () => {
  it('reads durations', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('-10m')).toBe(-600_000);
    expect(parseDuration('now')).toBe(0);
    expect(parseDuration('15')).toBe(900_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });

  it('reads the stack env file', () => {
    const env = parseEnvFile('# local stack\nNATS_URL=nats://127.0.0.1:4333\nexport WEB_URL="http://localhost:5173"\n\nEMPTY=\n');
    expect(env).toEqual({ NATS_URL: 'nats://127.0.0.1:4333', WEB_URL: 'http://localhost:5173', EMPTY: '' });
  });
});
