/**
 * Who is signed in, and their access token for the gateway. Two sources, one interface:
 * Supabase Auth (VITE_SUPABASE_URL / VITE_SUPABASE_ANON_KEY) in real deployments, or the
 * gateway's local dev issuer (demo tutor / demo student), which exists only when the gateway
 * runs with DEV_ISSUER_ENABLED. Tokens are refreshed before they expire.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import type { DemoUser, GatewayApi } from './api';
import { GatewayError } from './errors';

export interface AuthUser {
  userId: string;
  displayName: string;
  email: string | undefined;
  /** Set for demo users of the dev issuer. */
  demoAs: 'tutor' | 'student' | undefined;
}

export interface Auth {
  readonly mode: 'supabase' | 'dev';
  user(): AuthUser | undefined;
  /** A token valid for at least a minute; throws GatewayError('unauthenticated') when signed out. */
  accessToken(): Promise<string>;
  subscribe(listener: () => void): () => void;
  signOut(): Promise<void>;
}

const refreshMarginMs = 60_000;

class Listeners {
  private readonly set = new Set<() => void>();
  subscribe(l: () => void) {
    this.set.add(l);
    return () => void this.set.delete(l);
  }
  emit() {
    for (const l of this.set) l();
  }
}

interface StoredDevSession {
  as: 'tutor' | 'student';
  userId: string;
  name: string;
  accessToken: string;
  expiresAt: number;
}

/** Demo sign-in through the gateway's dev issuer. Kept per tab (sessionStorage), so two tabs can be tutor and student. */
export class DevAuth implements Auth {
  readonly mode = 'dev';
  private readonly listeners = new Listeners();
  private session: StoredDevSession | undefined;

  constructor(
    private readonly api: GatewayApi,
    readonly demoUsers: DemoUser[],
    private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined = globalThis.sessionStorage,
    private readonly now: () => number = Date.now,
  ) {
    try {
      const raw = this.storage?.getItem('lessoncall.dev-session');
      if (raw) this.session = JSON.parse(raw) as StoredDevSession;
    } catch {
      this.session = undefined;
    }
  }

  user(): AuthUser | undefined {
    const s = this.session;
    return s ? { userId: s.userId, displayName: s.name, email: undefined, demoAs: s.as } : undefined;
  }

  async signIn(as: 'tutor' | 'student'): Promise<void> {
    const t = await this.api.devToken(as);
    const name = this.demoUsers.find((u) => u.as === as)?.name ?? (as === 'tutor' ? 'Demo Tutor' : 'Demo Student');
    this.session = { as, userId: t.userId, name, accessToken: t.accessToken, expiresAt: t.expiresAt };
    this.storage?.setItem('lessoncall.dev-session', JSON.stringify(this.session));
    this.listeners.emit();
  }

  async accessToken(): Promise<string> {
    const s = this.session;
    if (!s) throw new GatewayError('unauthenticated', 'not signed in');
    if (s.expiresAt - this.now() < refreshMarginMs) await this.signIn(s.as);
    return this.session!.accessToken;
  }

  subscribe(listener: () => void) {
    return this.listeners.subscribe(listener);
  }

  async signOut(): Promise<void> {
    // Each tab is its own demo sign-in: only this one's tokens are refused from now on.
    const token = this.session?.accessToken;
    if (token) await gatewaySignOut(this.api, token, 'local');
    this.session = undefined;
    this.storage?.removeItem('lessoncall.dev-session');
    this.listeners.emit();
  }
}

/** Supabase Auth: email + password, or a magic link. supabase-js keeps the session fresh. */
export class SupabaseAuth implements Auth {
  readonly mode = 'supabase';
  private readonly listeners = new Listeners();
  private current: AuthUser | undefined;

  private constructor(
    private readonly client: SupabaseClient,
    private readonly api: Pick<GatewayApi, 'signOut'>,
  ) {
    client.auth.onAuthStateChange((_event, session) => {
      this.current = session?.user ? toUser(session.user) : undefined;
      this.listeners.emit();
    });
  }

  static async create(url: string, anonKey: string, api: Pick<GatewayApi, 'signOut'>): Promise<SupabaseAuth> {
    // Loaded only when configured: demo deployments never download it.
    const { createClient } = await import('@supabase/supabase-js');
    const auth = new SupabaseAuth(createClient(url, anonKey, { auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: true } }), api);
    const { data } = await auth.client.auth.getSession();
    auth.current = data.session?.user ? toUser(data.session.user) : undefined;
    return auth;
  }

  user(): AuthUser | undefined {
    return this.current;
  }

  async signInWithPassword(email: string, password: string): Promise<void> {
    const { error } = await this.client.auth.signInWithPassword({ email, password });
    if (error) throw new GatewayError('unauthenticated', error.message, { status: error.status ?? 400 });
  }

  async sendMagicLink(email: string): Promise<void> {
    const { error } = await this.client.auth.signInWithOtp({ email, options: { emailRedirectTo: globalThis.location?.href } });
    if (error) throw new GatewayError('unavailable', error.message, { status: error.status ?? 400 });
  }

  async accessToken(): Promise<string> {
    const { data } = await this.client.auth.getSession();
    let session = data.session;
    if (session && (session.expires_at ?? 0) * 1000 - Date.now() < refreshMarginMs) {
      session = (await this.client.auth.refreshSession()).data.session;
    }
    if (!session) throw new GatewayError('unauthenticated', 'not signed in');
    return session.access_token;
  }

  subscribe(listener: () => void) {
    return this.listeners.subscribe(listener);
  }

  async signOut(): Promise<void> {
    // First at the gateway, while the token still says who signs out: supabase-js signOut()
    // ends every sign-in of the user (scope global), and so does this.
    const { data } = await this.client.auth.getSession();
    if (data.session) await gatewaySignOut(this.api, data.session.access_token, 'global');
    await this.client.auth.signOut();
  }
}

/**
 * The gateway's half of a sign-out. A failure (the gateway unreachable) does not keep the user
 * signed in: the tokens then live until their expiry, as they would without this.
 */
async function gatewaySignOut(api: Pick<GatewayApi, 'signOut'>, token: string, scope: 'global' | 'local'): Promise<void> {
  try {
    await api.signOut(token, scope);
  } catch {
    // Signed out locally all the same.
  }
}

function toUser(u: { id: string; email?: string | undefined; user_metadata?: Record<string, unknown> }): AuthUser {
  const meta = u.user_metadata ?? {};
  const name = [meta.full_name, meta.name, meta.display_name].find((v): v is string => typeof v === 'string' && v.trim() !== '');
  return { userId: u.id, displayName: name ?? u.email?.split('@')[0] ?? 'Guest', email: u.email, demoAs: undefined };
}

export type AuthSetup = { kind: 'ready'; auth: Auth } | { kind: 'unconfigured' } | { kind: 'error'; error: unknown };

/** Supabase when configured; otherwise the gateway's dev issuer when it is on; otherwise nothing to sign in with. */
export async function createAuth(config: { supabaseUrl?: string | undefined; supabaseAnonKey?: string | undefined }, api: GatewayApi): Promise<AuthSetup> {
  try {
    if (config.supabaseUrl && config.supabaseAnonKey)
      return { kind: 'ready', auth: await SupabaseAuth.create(config.supabaseUrl, config.supabaseAnonKey, api) };
    const dev = await api.devConfig();
    if (dev) return { kind: 'ready', auth: new DevAuth(api, dev.demoUsers) };
    return { kind: 'unconfigured' };
  } catch (error) {
    return { kind: 'error', error };
  }
}
