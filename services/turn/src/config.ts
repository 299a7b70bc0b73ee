import { commonConfig, csv, healthPort, loadConfig } from '@lessoncall/kit';
import { z } from 'zod';

/** RFC 7065 TURN URIs, with an optional transport, as RTCIceServer.urls takes them. */
const turnUrl = z.string().regex(/^turns?:[^\s?]+(\?transport=(udp|tcp))?$/, 'must be turn:host[:port][?transport=udp|tcp] or turns:…');
/** RFC 7064 STUN URIs. */
const stunUrl = z.string().regex(/^stuns?:[^\s?]+$/, 'must be stun:host[:port] or stuns:host[:port]');

/** Every environment variable the turn service reads; the Helm chart's env is checked against these keys. */
export const configSchema = {
  ...commonConfig,
  ...healthPort,
  /** coturn's static-auth-secret (TURN REST API shared secret). Credentials are signed with it. */
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters'),
  /** Comma-separated TURN URIs handed to clients, e.g. turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp */
  TURN_URLS: csv().pipe(z.array(turnUrl).min(1, 'needs at least one TURN URI')),
  /** Comma-separated STUN URIs; empty: clients get no separate STUN entry. */
  STUN_URLS: csv().pipe(z.array(stunUrl)),
  /** Lifetime of a credential; clients ask again before it runs out. */
  TURN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  /**
   * Lifetime of a lobby connection-check credential (svc.turn.precall_credentials). The check
   * takes about 15 s; a short life keeps a credential handed out before Join from being a
   * free relay for long.
   */
  TURN_PRECALL_TTL_SECONDS: z.coerce.number().int().min(30).max(3_600).default(300),
};

export type TurnConfig = ReturnType<typeof loadTurnConfig>;

export function loadTurnConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig('turn', configSchema, env);
}
