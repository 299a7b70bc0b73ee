import type { Logger, Meter } from '@lessoncall/kit';
import { z } from 'zod';
import { actor, meetingIdOf, meetingIdParam } from './meetings';
import { type AnyRoute, defineRoute } from './route';

/**
 * Why a client's join did not reach the other participant's media. `refused` and
 * `media_denied` are the user's or the meeting's doing (a wrong passcode, an ended meeting, a
 * blocked camera); the others count against the join service level.
 */
export const joinFailureReasons = [
  'refused',
  'media_denied',
  'service_unavailable',
  'signaling_unreachable',
  'ice_failed',
  'relay_unreachable',
  'no_remote_media',
  'other',
] as const;

const browser = z.enum(['chromium', 'firefox', 'webkit', 'other']);

/**
 * What the browser saw of one join, sent once it knows: the time from Join (or from the other
 * participant's arrival, when they came later) to the first remote frame, or why there was none.
 */
export const clientReportBody = z.discriminatedUnion('outcome', [
  z
    .object({
      outcome: z.literal('media'),
      /** Milliseconds from Join (or the other's arrival) to the first decoded remote frame (or audio, when their camera is off). */
      toFirstMediaMs: z.number().int().min(0).max(600_000),
      relayed: z.boolean(),
      browser,
    })
    .strict(),
  z
    .object({
      outcome: z.literal('failed'),
      reason: z.enum(joinFailureReasons),
      /** The error code the client was answered, for the log (never a metric label). */
      code: z
        .string()
        .regex(/^[a-z_]{1,40}$/)
        .optional(),
      browser,
    })
    .strict(),
]);

export function clientReportMetrics(meter: Meter) {
  return {
    toFirstMedia: meter.createHistogram<{ relayed: string; browser: string }>('gateway_client_join_to_media_seconds', {
      description: 'Client-reported time from Join (or the other participant arriving) to the first remote frame, by relayed and browser',
      advice: { explicitBucketBoundaries: [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30] },
    }),
    failures: meter.createCounter<{ reason: string; browser: string }>('gateway_client_join_failures_total', {
      description: 'Client-reported joins that never got the other participant media, by reason and browser',
    }),
  };
}

/**
 * POST /api/video/meetings/:meetingId/client-report. Counted, logged, never forwarded: no NATS
 * request, so a report still lands while the services behind the gateway are down — which is
 * when failures need counting. Any signed-in user may report (the REST rate limit bounds
 * abuse); the meeting id is for the log, never a label.
 */
export function clientReportRoutes(meter: Meter, logger: Logger): AnyRoute[] {
  const metrics = clientReportMetrics(meter);
  return [
    defineRoute({
      method: 'post',
      path: '/api/video/meetings/:meetingId/client-report',
      operationId: 'reportJoin',
      summary: "The browser's account of a join: time to the first remote frame, or why there was none",
      description:
        'Sent once per join by the web client (fetch with keepalive). Feeds the join service levels (gateway_client_join_to_media_seconds, gateway_client_join_failures_total).',
      tags: ['participants'],
      access: 'user',
      params: meetingIdParam,
      body: clientReportBody,
      responses: { 204: { description: 'Counted' } },
      problems: [404],
      async handler(c) {
        const who = actor(c);
        const meetingId = meetingIdOf(c);
        const b = c.body;
        if (b.outcome === 'media') {
          metrics.toFirstMedia.record(b.toFirstMediaMs / 1000, { relayed: String(b.relayed), browser: b.browser });
        } else {
          metrics.failures.add(1, { reason: b.reason, browser: b.browser });
          (c.req.log ?? logger).info({ meetingId, userId: who.userId, reason: b.reason, code: b.code, browser: b.browser }, 'client join failed');
        }
        return { status: 204, body: '' };
      },
    }),
  ];
}
