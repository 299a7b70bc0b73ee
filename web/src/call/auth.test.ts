import { describe, expect, it } from 'vitest';
import { GatewayApi } from './api';
import { DevAuth } from './auth';

/** A sessionStorage stand-in: DevAuth keeps the demo sign-in per tab. */
function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
}

describe('DevAuth sign-out', () => {
  it('signs the tab’s token out at the gateway first (scope local), then forgets it', async () => {
    const asked: { path: string; init: RequestInit | undefined }[] = [];
    const api = new GatewayApi('http://gw', async (input, init) => {
      asked.push({ path: new URL(input).pathname, init });
      if (new URL(input).pathname === '/api/dev/token')
        return new Response(JSON.stringify({ accessToken: 'tok-1', userId: 'u', expiresAt: Date.now() + 3_600_000 }), { status: 200 });
      return new Response(null, { status: 204 });
    });
    const auth = new DevAuth(api, [], memoryStorage());
    await auth.signIn('tutor');
    await auth.signOut();
    const out = asked.find((a) => a.path === '/api/video/sign-out');
    expect(out?.init?.method).toBe('POST');
    expect(new Headers(out?.init?.headers).get('authorization')).toBe('Bearer tok-1');
    expect(JSON.parse(String(out?.init?.body))).toEqual({ scope: 'local' });
    expect(auth.user()).toBeUndefined();
  });

  it('still signs out when the gateway cannot be reached', async () => {
    const api = new GatewayApi('http://gw', async (input) => {
      if (new URL(input).pathname === '/api/dev/token')
        return new Response(JSON.stringify({ accessToken: 'tok-1', userId: 'u', expiresAt: Date.now() + 3_600_000 }), { status: 200 });
      throw new TypeError('fetch failed');
    });
    const auth = new DevAuth(api, [], memoryStorage());
    await auth.signIn('student');
    await auth.signOut();
    expect(auth.user()).toBeUndefined();
  });
});
