import { ConfigError } from '@lessoncall/kit';
import { describe, expect, it } from 'vitest';
import { loadTurnConfig } from './config';

const base = { TURN_SECRET: 'a-secret-of-24-characters', TURN_URLS: 'turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349?transport=tcp' };

describe('turn config', () => {
  it('reads the URL lists and defaults the TTL to one hour', () => {
    const c = loadTurnConfig({ ...base, STUN_URLS: 'stun:turn.example.com:3478' });
    expect(c.TURN_URLS).toEqual(['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp']);
    expect(c.STUN_URLS).toEqual(['stun:turn.example.com:3478']);
    expect(c.TURN_TTL_SECONDS).toBe(3600);
  });

  it('names every missing or malformed variable at once', () => {
    const err = (() => {
      try {
        loadTurnConfig({ TURN_SECRET: 'short', TURN_URLS: 'http://turn.example.com', STUN_URLS: 'turn:x' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.problems.join('\n');
    expect(text).toMatch(/TURN_SECRET/);
    expect(text).toMatch(/TURN_URLS/);
    expect(text).toMatch(/STUN_URLS/);
    expect(() => loadTurnConfig({ TURN_SECRET: base.TURN_SECRET })).toThrow(/TURN_URLS/);
  });
});
