import { createReadStream, existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { type Runtime, ServiceError, verifyLinkSignature } from '@lessoncall/kit';
import { RecordingLinkResponseSchema } from '@lessoncall/proto';
import { toJson } from '@bufbuild/protobuf';
import type { Express, Request, Response } from 'express';
import type { GatewayConfig } from '../config';
import { ref } from '../openapi/jsonschema';
import { actor, meetingIdParam } from './meetings';
import { serviceClients } from '../services';
import { type AnyRoute, defineRoute } from './route';

/** GET /api/video/meetings/:meetingId/recording: a short-lived link to the recording, for the meeting's people (the meeting's recording_url). */
export function recordingRoutes(config: GatewayConfig, runtime: Runtime): AnyRoute[] {
  const services = serviceClients(runtime.nc, config.REQUEST_TIMEOUT_MS);
  return [
    defineRoute({
      method: 'get',
      path: '/api/video/meetings/:meetingId/recording',
      operationId: 'getRecording',
      summary: "The lesson's recording: a redirect to a signed link that expires in minutes",
      description:
        "For the meeting's tutor and students only (404 for anyone else, as for a meeting that does not exist); 404 `recording_not_found` while the recording is being made or when the lesson was not recorded. The body carries the same link and its expiry.",
      tags: ['meetings'],
      access: 'user',
      params: meetingIdParam,
      responses: { 302: { description: 'To the signed link', schema: ref('RecordingLinkResponse'), headers: ['Location'] } },
      problems: [404],
      async handler(c) {
        const meetingId = c.params.meetingId as string;
        const res = await services.media.recordingLink({ meetingId, userId: actor(c).userId });
        return { status: 302, headers: { Location: res.url, 'Cache-Control': 'no-store' }, body: toJson(RecordingLinkResponseSchema, res) };
      },
    }),
  ];
}

/**
 * The local storage backend's files, to signed links only (RECORDINGS_DIR and RECORDINGS_SIGNING_SECRET
 * set: the local stack). In production recordings are in a bucket and this is not mounted.
 */
export function mountLocalRecordings(app: Express, config: GatewayConfig, now: () => Date): void {
  const dir = config.RECORDINGS_DIR;
  const secret = config.RECORDINGS_SIGNING_SECRET;
  if (!dir || !secret) return;
  const root = resolve(dir);
  app.get(/^\/api\/video\/recordings\/(.+)$/, (req: Request, res: Response) => {
    const key = String((req.params as Record<string, string>)[0] ?? '');
    const expires = Number(req.query.expires);
    const signature = String(req.query.signature ?? '');
    if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(key) || key.includes('..') || !verifyLinkSignature(secret, key, expires, signature, now())) {
      throw new ServiceError('forbidden', 'this recording link is not valid or has expired; ask for a new one');
    }
    const file = resolve(join(root, key));
    if (!file.startsWith(root + sep) || !existsSync(file)) throw new ServiceError('recording_not_found', 'no such recording');
    res.setHeader('Content-Type', 'video/webm');
    res.setHeader('Cache-Control', 'private, no-store');
    createReadStream(file).pipe(res);
  });
}
