import { ConfigError, commonConfig, csv, databaseUrl, healthPort, loadConfig } from '@lessoncall/kit';
import { z } from 'zod';

const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const wsUrl = z.string().regex(/^wss?:\/\/[^\s|,]+$/, 'must be a ws:// or wss:// URL');

/** One Janus node: `id|publicWsUrl|adminWsUrl`. */
export interface JanusNodeSpec {
  id: string;
  /** The Janus API as clients reach it (through TLS/ingress in production). */
  url: string;
  /** The Admin API as the media service reaches it (inside the cluster). */
  adminUrl: string;
}

const nodeSpec = z.string().transform((s, ctx): JanusNodeSpec => {
  const [id = '', url = '', adminUrl = ''] = s.split('|');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) ctx.addIssue({ code: 'custom', message: `node id ${JSON.stringify(id)} must be 1-64 letters, digits, _ or -` });
  if (!wsUrl.safeParse(url).success) ctx.addIssue({ code: 'custom', message: `node ${id}: public URL must be ws:// or wss://` });
  if (!wsUrl.safeParse(adminUrl).success) ctx.addIssue({ code: 'custom', message: `node ${id}: admin URL must be ws:// or wss://` });
  return { id, url, adminUrl };
});

/** Every environment variable the media service reads; the Helm chart's env is checked against these keys. */
export const configSchema = {
  ...commonConfig,
  ...healthPort,
  ...databaseUrl,
  /**
   * The Janus nodes rooms are placed on, comma-separated, each `id|publicWsUrl|adminWsUrl`, e.g.
   * `janus-0|wss://janus-0.example.com|ws://janus-0.janus:7188`. Ids must stay stable: rooms name their node.
   */
  JANUS_NODES: csv()
    .pipe(z.array(nodeSpec).min(1, 'needs at least one node'))
    .refine((nodes) => new Set(nodes.map((n) => n.id)).size === nodes.length, 'node ids must be unique'),
  /** The nodes' admin_secret (Admin API). */
  JANUS_ADMIN_SECRET: z.string().min(16, 'must be at least 16 characters'),
  /** The nodes' token_auth_secret: clients get HMAC-signed core tokens from it. */
  JANUS_TOKEN_SECRET: z.string().min(16, 'must be at least 16 characters'),
  /** The VideoRoom plugin's admin_key: only the media service creates rooms. */
  JANUS_ROOM_ADMIN_KEY: z.string().min(16, 'must be at least 16 characters'),
  /** Shortest lifetime of a client's core token; it lives at least until the meeting's join window closes (Janus checks it on every request, keepalives too). */
  JANUS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  /** How long an Admin API request may take before the node counts as not answering. */
  JANUS_TIMEOUT_MS: positive(2_000),
  /** How often every node is probed (Admin API info, rooms, sessions). */
  JANUS_HEALTH_INTERVAL_MS: positive(2_000),
  /** Probes in a row a node may miss before it is dead and its rooms move to another node. */
  JANUS_DEAD_AFTER_FAILURES: positive(3),
  /** Where the nodes write recordings (rec_dir), as the nodes see it: a volume shared with this service. */
  JANUS_RECORDINGS_DIR: z.string().min(1).default('/var/lib/janus/recordings'),
  /** `local`: recordings on disk under RECORDINGS_DIR (the local stack); `s3`: an S3-compatible bucket (Supabase Storage). */
  RECORDINGS_STORAGE: z.enum(['local', 's3']).default('local'),
  /** The local backend's root. */
  RECORDINGS_DIR: z.string().min(1).default('/var/lib/lessoncall/recordings'),
  /** Signs the local backend's links (the gateway checks them with the same secret). */
  RECORDINGS_SIGNING_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Where the web app answers: recording_url is `<PUBLIC_BASE_URL>/api/video/meetings/<id>/recording`. */
  PUBLIC_BASE_URL: z.url().default('http://localhost:8080'),
  /** A signed recording link lives this long. */
  RECORDING_LINK_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
  /** How often pending recordings are made and expired ones deleted (a meeting's end also starts it at once). */
  RECORDING_SWEEP_INTERVAL_MS: positive(30_000),
  /** Recordings are deleted from storage this long after their meeting ended. */
  RECORDING_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(90),
  /** The S3 backend: endpoint (e.g. https://<project>.supabase.co/storage/v1/s3), region, bucket, keys. */
  S3_ENDPOINT: z.url().optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: z.string().min(1).default('recordings'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Publishers a room allows beyond the meeting's people (a second tab, a screen share). */
  ROOM_EXTRA_PUBLISHERS: z.coerce.number().int().min(0).max(50).default(4),
};

export type MediaConfig = ReturnType<typeof loadMediaConfig>;

export function loadMediaConfig(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig('media', configSchema, env);
  const missing =
    config.RECORDINGS_STORAGE === 's3'
      ? (['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const).filter((k) => !config[k])
      : (['RECORDINGS_SIGNING_SECRET'] as const).filter((k) => !config[k]);
  if (missing.length > 0)
    throw new ConfigError(
      'media',
      missing.map((k) => `${k}: required with RECORDINGS_STORAGE=${config.RECORDINGS_STORAGE}`),
    );
  return config;
}
