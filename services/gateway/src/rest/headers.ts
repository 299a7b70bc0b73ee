import { ServiceError } from '@lessoncall/kit';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Headers every answer carries; the web app's pages replace the CSP with their own. */
export function securityHeaders(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    // Answers carry passcodes, tokens and session ids: no cache may keep them.
    if (req.path.startsWith('/api/')) res.setHeader('Cache-Control', 'no-store');
    next();
  };
}

const allowHeaders = 'Authorization, Content-Type, Idempotency-Key, X-Meeting-Passcode, X-Request-Id, traceparent, tracestate';
const exposeHeaders = 'X-Request-Id, X-Trace-Id, traceresponse, Retry-After, Location, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset';

/**
 * CORS for the configured web origins only. Tokens travel in the Authorization header, never
 * in cookies, so credentials are not allowed. A preflight from any other origin is refused.
 */
export function cors(webOrigins: readonly string[], maxAgeSeconds = 600): RequestHandler {
  const allowed = new Set(webOrigins.map((o) => o.replace(/\/+$/, '')));
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (!origin) return next();
    res.vary('Origin');
    const ok = allowed.has(origin);
    if (ok) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', exposeHeaders);
    }
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      if (!ok) throw new ServiceError('forbidden', `origin ${origin} is not allowed`);
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', allowHeaders);
      res.setHeader('Access-Control-Max-Age', String(maxAgeSeconds));
      res.status(204).end();
      return;
    }
    next();
  };
}
