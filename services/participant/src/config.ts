import { commonConfig, databaseUrl, healthPort, loadConfig } from '@lessoncall/kit';
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every environment variable the participant service reads; the Helm chart's env is checked against these keys. */
export const configSchema = {
  ...commonConfig,
  ...healthPort,
  ...databaseUrl,
  /** How long a session whose socket dropped stays live, waiting for a resume, before it is closed (`timeout`). */
  PRESENCE_GRACE_SECONDS: positiveInt(20),
  /**
   * A connected session with no presence report (connected or heartbeat) for this long is treated as
   * disconnected at its last report: the safety net for a gateway killed without reporting its sockets.
   * Must stay well above the gateway's heartbeat interval (WS_PRESENCE_INTERVAL_MS, 30 s); 0 turns it off.
   */
  PRESENCE_STALE_SECONDS: z.coerce.number().int().min(0).default(90),
  /**
   * The mesh limit. A newcomer gets in while fewer people than this are in; another tab of
   * someone already in only while fewer sessions than this are live, so one person's tabs
   * never keep the other out (at most this + people - 1 sessions).
   */
  MAX_SESSIONS_PER_MEETING: positiveInt(4),
  /** HMAC key of resume tokens; only hashes of the tokens are stored. */
  RESUME_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters'),
  /** How often the sweep closes timed-out sessions. */
  SWEEP_INTERVAL_MS: positiveInt(5_000),
  /** Rows one sweep pass handles at most (the rest wait for the next pass). */
  SWEEP_BATCH_SIZE: positiveInt(500),
  /**
   * An outbox event older than this is published by the sweep (its publisher crashed, or the bus
   * did not answer). Well inside JetStream's 2-minute duplicate window, so that a second copy is
   * dropped.
   */
  OUTBOX_RELAY_AFTER_MS: z.coerce.number().int().positive().max(60_000).default(10_000),
  /** svc.meeting.verify_join: no answer in this time and the join fails with `unavailable`. */
  MEETING_TIMEOUT_MS: positiveInt(2_000),
  /** svc.turn.credentials: no answer in this time and the join succeeds with no ICE servers. */
  TURN_TIMEOUT_MS: positiveInt(1_000),
  /** Least time between two of the tutor's asks to unmute one session (the student's prompt is not a nag). */
  UNMUTE_ASK_INTERVAL_SECONDS: positiveInt(15),
  /** Longest display name accepted on join. */
  DISPLAY_NAME_MAX_LENGTH: positiveInt(80),
  /** Largest whiteboard update accepted, in bytes (a Yjs update; a stroke is a few hundred). Bigger answers `message_too_large`. */
  BOARD_MAX_UPDATE_BYTES: positiveInt(32_768),
  /** Largest stored board (snapshot + updates since), in bytes; an update past it answers `board_full` until the tutor clears the board. */
  BOARD_MAX_BYTES: positiveInt(2_097_152),
  /** Stored updates after which a board is folded into a new snapshot (the state a late joiner reads is one row then). */
  BOARD_COMPACT_EVERY: positiveInt(64),
  /** Largest board image a lesson record carries inline; a bigger one is marked omitted. */
  RECORD_MAX_BOARD_IMAGE_BYTES: positiveInt(524_288),
};

export type ParticipantConfig = ReturnType<typeof loadParticipantConfig>;

export function loadParticipantConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig('participant', configSchema, env);
}
