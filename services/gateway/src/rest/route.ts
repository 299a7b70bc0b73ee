import { invalidRequest, ServiceError } from '@lessoncall/kit';
import type { Request, Response, Router } from 'express';
import type { z } from 'zod';
import { bearerToken, type Identity, type TokenVerifier } from '../auth/index';
import type { JsonSchema } from '../openapi/jsonschema';
import type { RateLimiter } from './ratelimit';

/** Who may call a route: anyone, a signed-in user, or a user or the booking system (its own key, BOOKING_CLIENT_ID). */
export type Access = 'public' | 'user' | 'user_or_service';

export interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Defaults to application/json. */
  contentType?: string;
}

export interface Call<B, Q> {
  req: Request;
  /** Set on every route whose access is not public. */
  identity: Identity | undefined;
  body: B;
  query: Q;
  params: Record<string, string>;
  /** Identifies the client for passcode lockout and rate limits: its IP as the trusted proxies report it. */
  clientKey: string;
}

export interface HeaderDoc {
  name: string;
  description: string;
}

export interface ResponseDoc {
  description: string;
  schema?: JsonSchema;
  contentType?: string;
  headers?: string[];
}

/**
 * One REST endpoint: how it is served and how it is documented, in one place, so the OpenAPI
 * document is generated from the same table the router is built from.
 */
export interface RouteSpec<B = unknown, Q = unknown> {
  method: 'get' | 'post';
  /** Express path, e.g. /api/video/meetings/:meetingId/join */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  access: Access;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  headers?: HeaderDoc[];
  /** Path parameters' schemas, by name; each must appear in the path. */
  params?: Record<string, JsonSchema>;
  responses: Record<number, ResponseDoc>;
  /** Problem statuses this route may answer, beyond those every route of its access answers. */
  problems: number[];
  handler(call: Call<B, Q>): Promise<Reply>;
}

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous table of routes, each typed where it is defined.
export type AnyRoute = RouteSpec<any, any>;

export function defineRoute<B = undefined, Q = undefined>(spec: RouteSpec<B, Q>): RouteSpec<B, Q> {
  return spec;
}

/** Problem statuses every route of an access level may answer. */
export function commonProblems(access: Access, hasInput: boolean): number[] {
  const base = [429, 500, 503];
  if (hasInput) base.push(400, 413);
  if (access !== 'public') base.push(401, 403);
  return base;
}

/** A zod failure as invalid_request naming the offending field. */
export function fromZodError(error: z.ZodError, where: 'body' | 'query'): ServiceError {
  const issue = error.issues[0];
  if (!issue) return invalidRequest(where, `${where} is invalid`);
  let field = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') field = issue.keys[0] ?? field;
  return invalidRequest(field || where, field ? `${field}: ${issue.message}` : issue.message);
}

declare global {
  namespace Express {
    interface Request {
      /** The client's address as `clientAddress` finds it (set first thing by the app). */
      clientKey: string;
    }
  }
}

export function clientKeyOf(req: Request): string {
  return req.clientKey;
}

const hasBody = (req: Request) => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

async function takeUserQuota(limiter: RateLimiter, userId: string, res: Response): Promise<void> {
  const d = await limiter.take(`user:${userId}`);
  // The tighter of the two limits is what the client sees in the RateLimit-* headers.
  if (d.remaining < Number(res.getHeader('RateLimit-Remaining') ?? Number.POSITIVE_INFINITY)) {
    res.setHeader('RateLimit-Limit', String(d.limit));
    res.setHeader('RateLimit-Remaining', String(d.remaining));
    res.setHeader('RateLimit-Reset', String(d.resetSeconds));
  }
  if (!d.allowed) throw new ServiceError('rate_limited', `more than ${d.limit} requests per minute from this account`, { retryAfterSeconds: d.resetSeconds });
}

/** Registers a route: authentication, input validation, the handler, and its JSON reply. */
export function mount(router: Router, spec: AnyRoute, verifier: TokenVerifier, perUser?: RateLimiter): void {
  router[spec.method](spec.path, async (req: Request, res: Response) => {
    let identity: Identity | undefined;
    if (spec.access !== 'public') {
      const token = bearerToken(req.headers.authorization);
      if (!token) throw new ServiceError('unauthenticated', 'an Authorization: Bearer <access token> header is required');
      identity = await verifier.verify(token);
      if (spec.access === 'user' && identity.role !== 'authenticated') {
        throw new ServiceError('forbidden', "this endpoint needs a user's access token, not a service credential");
      }
      // Per user as well as per address: one account behind many addresses (or one address
      // shared by a whole school) is limited by what that account does.
      if (perUser && identity.role === 'authenticated') await takeUserQuota(perUser, identity.userId, res);
    }
    let body: unknown;
    if (spec.body) {
      if (hasBody(req) && !req.is('application/json') && !req.is('application/*+json')) {
        throw invalidRequest('content-type', 'send the body as application/json');
      }
      const parsed = spec.body.safeParse(req.body ?? {});
      if (!parsed.success) throw fromZodError(parsed.error, 'body');
      body = parsed.data;
    }
    let query: unknown;
    if (spec.query) {
      const parsed = spec.query.safeParse(req.query);
      if (!parsed.success) throw fromZodError(parsed.error, 'query');
      query = parsed.data;
    }
    const reply = await spec.handler({ req, identity, body, query, params: req.params as Record<string, string>, clientKey: clientKeyOf(req) });
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    res.status(reply.status ?? 200);
    if (reply.contentType) res.type(reply.contentType).send(reply.body);
    else res.type('application/json').send(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  });
}
