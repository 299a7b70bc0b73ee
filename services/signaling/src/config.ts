import { commonConfig, healthPort, loadConfig } from '@lessoncall/kit';
import { z } from 'zod';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every environment variable the signaling service reads; the Helm chart's env is checked against these keys. */
export const configSchema = {
  ...commonConfig,
  ...healthPort,
  /** svc.participant.live_sessions for every meeting (start-up, NATS reconnect, resync): no answer in this time and it is retried. */
  ROSTER_REBUILD_TIMEOUT_MS: ms(5_000),
  /** Pause between two attempts to rebuild the roster while the participant service does not answer. */
  ROSTER_REBUILD_RETRY_MS: ms(1_000),
  /** A full re-read of the roster this often, the safety net for a participant.left lost on the way; 0 turns it off. */
  ROSTER_RESYNC_INTERVAL_MS: z.coerce.number().int().min(0).default(300_000),
  /** A signal naming a session this replica has not seen re-reads that meeting's roster, waiting at most this long. */
  ROSTER_RECHECK_TIMEOUT_MS: ms(1_000),
  /** At most one re-read per meeting in this time: a client probing unknown sessions cannot flood the participant service. */
  ROSTER_RECHECK_MIN_INTERVAL_MS: z.coerce.number().int().min(0).default(250),
  /** How long a left session is remembered, so that a late or re-read "live" cannot bring it back. */
  ROSTER_TOMBSTONE_TTL_MS: ms(600_000),
  /** Largest signal.route message accepted (the JSON envelope). */
  SIGNAL_MAX_MESSAGE_BYTES: ms(98_304),
  /** Largest SDP in an offer, answer or ICE restart (UTF-8 bytes). */
  SIGNAL_MAX_SDP_BYTES: ms(65_536),
  /** Largest ICE candidate line. */
  SIGNAL_MAX_CANDIDATE_BYTES: ms(4_096),
};

export type SignalingConfig = ReturnType<typeof loadSignalingConfig>;

export function loadSignalingConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig('signaling', configSchema, env);
}
