/** Build-time settings (Vite `VITE_*` variables), read once here and nowhere else. */
export interface AppConfig {
  /** Supabase project URL and anon key: real sign-in. Without them the gateway's dev issuer (if on) signs demo users in. */
  supabaseUrl: string | undefined;
  supabaseAnonKey: string | undefined;
  /** `relay`: every call uses TURN relay candidates only (as `?relay=1` does for one call). */
  iceTransportPolicy: RTCIceTransportPolicy;
}

export const appConfig: AppConfig = {
  supabaseUrl: import.meta.env.VITE_SUPABASE_URL || undefined,
  supabaseAnonKey: import.meta.env.VITE_SUPABASE_ANON_KEY || undefined,
  iceTransportPolicy: import.meta.env.VITE_ICE_TRANSPORT_POLICY === 'relay' ? 'relay' : 'all',
};
