/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_SUPABASE_URL?: string;
  readonly VITE_SUPABASE_ANON_KEY?: string;
  readonly VITE_ICE_TRANSPORT_POLICY?: string;
  readonly VITE_GATEWAY_URL?: string;
}
