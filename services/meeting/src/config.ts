import { commonConfig, databaseUrl, healthPort, loadConfig } from '@lessoncall/kit';
import { z } from 'zod';

const minutes = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every environment variable the meeting service reads; the Helm chart's env is checked against these keys. */
export const configSchema = {
  ...commonConfig,
  ...healthPort,
  ...databaseUrl,
  /** Where the web app answers: join links are `<PUBLIC_BASE_URL>/meet/<meetingId>#pwd=<passcode>`. */
  PUBLIC_BASE_URL: z
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
    .default('http://localhost:8080'),
  /** A meeting is joinable from this long before its scheduled start… */
  JOIN_LEAD_MINUTES: minutes(15),
  /** …until this long after its scheduled end; then the sweep closes it. */
  JOIN_GRACE_MINUTES: minutes(15),
  /** Wrong passcodes per meeting, user and client key inside the window before that key is locked. */
  PASSCODE_MAX_FAILURES: positive(5),
  PASSCODE_FAILURE_WINDOW_MINUTES: positive(15),
  PASSCODE_LOCK_MINUTES: positive(15),
  /** Students a group lesson may have at most (booking.confirmed / svc.meeting.create `studentIds`). */
  GROUP_MAX_STUDENTS: z.coerce.number().int().min(1).max(100).default(25),
  /** People the peer-to-peer mesh carries at most: a meeting with more runs on the SFU. */
  MESH_MAX_PEOPLE: z.coerce.number().int().min(2).max(8).default(4),
  /** `auto`: sfu for groups above MESH_MAX_PEOPLE and recorded lessons, p2p otherwise; `sfu`: every meeting on the SFU. */
  MEDIA_MODE: z.enum(['auto', 'sfu']).default('auto'),
  /** How often the sweep closes meetings whose window has passed, decides no-shows and republishes stranded events. */
  SWEEP_INTERVAL_MS: positive(30_000),
  /** Meetings one sweep closes at most (the next sweep takes the rest). */
  SWEEP_BATCH_SIZE: positive(100),
  /**
   * An outbox event older than this is published by the sweep (its publisher crashed). Well
   * inside JetStream's 2-minute duplicate window, so that a second copy is dropped.
   */
  OUTBOX_RELAY_AFTER_MS: z.coerce.number().int().positive().max(60_000).default(10_000),
  /**
   * A meeting this long after its scheduled start that its student (or tutor) never joined is a
   * no-show (meeting.no_show, decided by the sweep from the participant service's attendance).
   */
  NO_SHOW_AFTER_MINUTES: positive(10),
  /** How long meeting.ended (and a no-show check) waits for the participant service's attendance before going without. */
  ATTENDANCE_TIMEOUT_MS: positive(1_000),
  /**
   * Booking events pulled and handled at once; booking.confirmed events that arrive together
   * are inserted in one transaction. It bounds the events in flight, hence the throughput
   * (events in flight ÷ latency): 256 held a 2-core machine under 2,000/s when loaded.
   */
  BOOKING_BATCH_SIZE: positive(512),
  /**
   * Insert transactions of booking.confirmed batches running at once. Few and large beats many
   * and small: on 2 cores, 2 held p99 under 100 ms at 2,000/s where 10 let it pass a second.
   */
  BOOKING_INSERT_CONCURRENCY: positive(2),
  /**
   * Deliveries of a booking or participant event failing with an *unknown* error (a bug, most
   * likely) before it is dead-lettered. Invalid events are dead-lettered at once; transient
   * failures (Postgres or NATS down, serialization failures, timeouts) retry without limit.
   */
  BOOKING_MAX_DELIVER: positive(5),
  /** Back-off of a failed event: the first retry after about this long, doubling… */
  BOOKING_RETRY_BASE_MS: positive(500),
  /** …up to this (with jitter: between half and all of the step). */
  BOOKING_RETRY_MAX_MS: positive(30_000),
  /** An event still failing this long after it was published counts in meeting_events_retrying_long_total: alert on it. */
  BOOKING_RETRY_ALERT_MS: positive(300_000),
  /** How long JetStream waits for an ack before redelivering to another replica. */
  BOOKING_ACK_WAIT_MS: positive(30_000),
};

export type MeetingConfig = ReturnType<typeof loadMeetingConfig>;

export function loadMeetingConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig('meeting', configSchema, env);
}
