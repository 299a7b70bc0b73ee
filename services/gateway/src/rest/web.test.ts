import { describe, expect, it } from 'vitest';
import { webCsp } from './web';

describe('the web app CSP', () => {
  it('lets the app reach its gateway, Supabase and exactly the Janus nodes given, never any ws: host', () => {
    const csp = webCsp(
      'https://abc.supabase.co',
      ['https://lessons.example.com'],
      ['wss://janus-0.lessons.example.com', 'wss://janus-1.lessons.example.com:8989/x'],
    );
    const connect = csp
      .split('; ')
      .find((d) => d.startsWith('connect-src'))
      ?.split(' ')
      .slice(1);
    expect(connect).toEqual([
      "'self'",
      'wss://lessons.example.com',
      'https://abc.supabase.co',
      'wss://janus-0.lessons.example.com',
      'wss://janus-1.lessons.example.com:8989',
    ]);
    expect(connect).not.toContain('ws:');
    expect(connect).not.toContain('wss:');
  });
});
