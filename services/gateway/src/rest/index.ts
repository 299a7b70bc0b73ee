import { type Clock, type Logger, ServiceError, type Runtime, systemClock } from '@lessoncall/kit';
import { errors as natsErrors } from '@nats-io/nats-core';
import express, { type ErrorRequestHandler, type Express, type NextFunction, type Request, type Response } from 'express';
import type { TokenVerifier } from '../auth/index';
import type { Revocations } from '../auth/revocations';
import type { GatewayConfig } from '../config';
import { buildOpenApi } from '../openapi/document';
import { type JsonSchema, protoJsonSchemas } from '../openapi/jsonschema';
import { clientReportRoutes } from './client-report';
import { devRoutes, devSchemas } from './dev';
import { cors, securityHeaders } from './headers';
import { meetingRoutes, restMessages, restSchemas } from './meetings';
import { mountLocalRecordings, recordingRoutes } from './recordings';
import { clientAddress, parseTrustedProxies } from '../client-address';
import { observe } from './observe';
import { opsRoutes, opsSchemas } from './ops';
import { tutorControlMessages, tutorControlRoutes } from './tutor-controls';
import { precallRoutes } from './precall';
import { problemOf, problemTypeBase, sendProblem } from './problem';
import { restRateLimiter } from './ratelimit';
import { type AnyRoute, clientKeyOf, defineRoute, mount } from './route';
import { signOutRoutes } from './sign-out';
import { webApp } from './web';

export { openApiPath } from '../openapi/document';
export type { AnyRoute } from './route';

export interface RestAppOptions {
  config: GatewayConfig;
  runtime: Runtime;
  verifier: TokenVerifier;
  /** Where sign-outs are recorded (POST /api/video/sign-out). */
  revocations: Pick<Revocations, 'revoke'>;
  clock?: Clock;
  /** True once the gateway is shutting down: /readyz answers 503. */
  isDraining?: () => boolean;
}

const openApiRoute = (document: () => JsonSchema): AnyRoute =>
  defineRoute({
    method: 'get',
    path: '/api/video/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    tags: ['ops'],
    access: 'public',
    responses: { 200: { description: 'OpenAPI 3.1', schema: { type: 'object' } } },
    problems: [],
    async handler() {
      return { body: document() };
    },
  });

const webOrigins = (config: GatewayConfig) =>
  config.WEB_ORIGIN.split(',')
    .map((o) => o.trim())
    .filter(Boolean);

/** Every route the app serves, in the order it matches them. The OpenAPI document is built from this list. */
export function restRoutes(
  config: GatewayConfig,
  runtime: Runtime,
  revocations: Pick<Revocations, 'revoke'>,
  document: () => JsonSchema = () => ({}),
  isDraining?: () => boolean,
  clock: Clock = systemClock,
): { ops: AnyRoute[]; api: AnyRoute[] } {
  return {
    ops: opsRoutes(runtime, isDraining),
    api: [
      ...meetingRoutes(config, runtime),
      ...tutorControlRoutes(config, runtime),
      ...precallRoutes(config, runtime, clock),
      ...clientReportRoutes(runtime.metrics.meter, runtime.logger),
      ...recordingRoutes(config, runtime),
      ...signOutRoutes(revocations),
      ...(config.DEV_ISSUER_ENABLED ? devRoutes(config) : []),
      openApiRoute(document),
    ],
  };
}

/**
 * The REST API: /api/video/* translated to NATS requests, the dev issuer when enabled,
 * probes and metrics, and the web app when WEB_DIST_DIR is set.
 */
export function createRestApp({ config, runtime, verifier, revocations, clock = systemClock, isDraining }: RestAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Client addresses come from clientAddress (TRUSTED_PROXY_CIDRS), the same walk as WebSocket upgrades.
  app.set('trust proxy', false);
  const trusted = parseTrustedProxies(config.TRUSTED_PROXY_CIDRS);

  let openapi: JsonSchema | undefined;
  const routes = restRoutes(
    config,
    runtime,
    revocations,
    () => {
      openapi ??= buildOpenApi(
        [...routes.ops, ...routes.api],
        { ...protoJsonSchemas([...restMessages, ...tutorControlMessages]), ...restSchemas, ...devSchemas, ...opsSchemas },
        {
          title: 'lessoncall gateway',
          version: '1.0.0',
        },
      );
      return openapi;
    },
    isDraining,
    clock,
  );

  // Per address and per user: one bucket, keys apart (`user:` never parses as an address).
  const limiter = restRateLimiter(config, runtime, clock, config.REST_RATE_PER_MINUTE);
  const perUser = restRateLimiter(config, runtime, clock, config.REST_USER_RATE_PER_MINUTE);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    req.clientKey = clientAddress(req, trusted);
    next();
  });

  app.use(observe(runtime.logger, runtime.metrics.meter));
  app.use(securityHeaders());
  app.use(cors(webOrigins(config)));

  const ops = express.Router();
  for (const route of routes.ops) mount(ops, route, verifier);
  app.use(ops);

  app.use('/api', async (req: Request, res: Response, next: NextFunction) => {
    const decision = await limiter.take(clientKeyOf(req));
    res.setHeader('RateLimit-Limit', String(decision.limit));
    res.setHeader('RateLimit-Remaining', String(decision.remaining));
    res.setHeader('RateLimit-Reset', String(decision.resetSeconds));
    if (!decision.allowed)
      throw new ServiceError('rate_limited', `more than ${decision.limit} requests per minute`, { retryAfterSeconds: decision.resetSeconds });
    next();
  });
  app.use('/api', express.json({ limit: config.REST_BODY_LIMIT_BYTES, strict: true, type: ['application/json', 'application/*+json'] }));
  const api = express.Router();
  for (const route of routes.api) mount(api, route, verifier, perUser);
  app.use(api);

  mountLocalRecordings(app, config, () => clock.now());
  if (config.WEB_DIST_DIR) app.use(webApp(config.WEB_DIST_DIR, config.SUPABASE_URL, webOrigins(config), config.JANUS_PUBLIC_URLS));
  app.use((req: Request, res: Response) => {
    sendProblem(res, {
      type: `${problemTypeBase}not_found`,
      title: 'Not found',
      status: 404,
      detail: `no route ${req.method} ${req.path}`,
      code: 'invalid_request',
      instance: req.path,
      requestId: req.requestId,
      field: 'path',
    });
  });
  app.use(errorHandler(runtime.logger));
  return app;
}

/** A body-parser or transport failure as the problem it is. */
function knownError(err: unknown): ServiceError | undefined {
  // The NATS connection is draining (this replica is stopping) or gone: another replica can answer.
  if (err instanceof natsErrors.DrainingConnectionError || err instanceof natsErrors.ClosedConnectionError)
    return new ServiceError('unavailable', 'the gateway lost its connection to the services', { retryAfterSeconds: 1 });
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { type?: unknown; status?: unknown };
  switch (e.type) {
    case 'entity.too.large':
      return new ServiceError('message_too_large', 'request body too large');
    case 'entity.parse.failed':
      return new ServiceError('invalid_request', 'request body is not valid JSON', { field: 'body' });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ServiceError('invalid_request', 'request body encoding is not supported', { field: 'content-type' });
    case 'request.size.invalid':
    case 'request.aborted':
      return new ServiceError('invalid_request', 'request body incomplete', { field: 'body' });
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new ServiceError('invalid_request', 'malformed request', { field: 'path' });
  return undefined;
}

/** Every failure becomes a problem+json answer; only unexpected ones are logged with their stack, never sent. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const error = err instanceof ServiceError ? err : (knownError(err) ?? err);
    const log = req.log ?? logger;
    if (!(error instanceof ServiceError)) log.error({ err }, 'request failed unexpectedly');
    else if (error.code === 'unavailable') log.warn({ subject: error.subject, detail: error.message }, 'service unavailable');
    if (error instanceof ServiceError && (error.code === 'unauthenticated' || error.code === 'token_expired' || error.code === 'token_revoked')) {
      res.setHeader('WWW-Authenticate', `Bearer realm="lessoncall"${req.headers.authorization ? `, error="invalid_token"` : ''}`);
    }
    sendProblem(res, problemOf(error, req.requestId ?? '', req.path));
  };
}
