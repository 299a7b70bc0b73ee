import { commonConfig, csv, databaseUrl, healthPort, loadConfig } from '@lessoncall/kit';
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
  /** Lifetime of a client's core token; the client asks again (sfu_refresh) before it runs out. */
  JANUS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  /** How long an Admin API request may take before the node counts as not answering. */
  JANUS_TIMEOUT_MS: positive(2_000),
  /** How often every node is probed (Admin API info, rooms, sessions). */
  JANUS_HEALTH_INTERVAL_MS: positive(2_000),
  /** Probes in a row a node may miss before it is dead and its rooms move to another node. */
  JANUS_DEAD_AFTER_FAILURES: positive(3),
  /** Where the nodes write recordings (rec_dir), as the nodes see it: a volume shared with this service. */
  JANUS_RECORDINGS_DIR: z.string().min(1).default('/var/lib/janus/recordings'),
  /** Publishers a room allows beyond the meeting's people (a second tab, a screen share). */
  ROOM_EXTRA_PUBLISHERS: z.coerce.number().int().min(0).max(50).default(4),
};

export type MediaConfig = ReturnType<typeof loadMediaConfig>;

export function loadMediaConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig('media', configSchema, env);
}
