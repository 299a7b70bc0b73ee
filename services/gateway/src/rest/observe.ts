import { randomBytes, randomUUID } from 'node:crypto';
import { type Logger, type Meter, SpanKind, withSpan } from '@lessoncall/kit';
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  namespace Express {
    interface Request {
      requestId: string;
      traceId: string;
      log: Logger;
    }
  }
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
/** W3C `traceparent`: version, trace id, parent span id, flags. */
export const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The route template a request matched (`/api/video/meetings/:meetingId/join`), never the raw path with ids in it. */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

/**
 * Per request: an OpenTelemetry SERVER span continuing an incoming `traceparent` (the NATS
 * requests made while handling it are its children, so the services' spans share its trace id),
 * a request id (X-Request-Id in and out), the trace id out (traceresponse, X-Trace-Id), a log
 * line, and RED metrics per route.
 */
export function observe(logger: Logger, meter: Meter): RequestHandler {
  const duration = meter.createHistogram<{ method: string; route: string; status: string }>('gateway_http_request_duration_seconds', {
    description: 'REST requests by route, method and status (rate, errors and duration)',
    advice: { explicitBucketBoundaries: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
  });

  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    req.requestId = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
    const parent = propagation.extract(context.active(), req.headers);
    void withSpan(
      `${req.method} ${req.path.startsWith('/api/') ? 'api' : 'web'}`,
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: { 'http.request.method': req.method, 'url.path': req.path, 'url.scheme': req.protocol },
      },
      (span) =>
        new Promise<void>((resolve) => {
          const spanCtx = context.active();
          let spanContext = span.spanContext();
          const tracing = trace.isSpanContextValid(spanContext);
          if (!tracing) {
            // Tracing is off: still hand out a trace id (the caller's, or a new one) to correlate logs.
            const m = traceparentPattern.exec(String(req.headers.traceparent ?? ''));
            spanContext = { traceId: m?.[1] ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: 0 };
          }
          req.traceId = spanContext.traceId;
          // With tracing on, the logger's mixin already stamps the active span's trace id.
          req.log = logger.child(tracing ? { requestId: req.requestId } : { requestId: req.requestId, traceId: req.traceId });
          res.setHeader('X-Request-Id', req.requestId);
          res.setHeader('X-Trace-Id', spanContext.traceId);
          res.setHeader('traceresponse', `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags & 1}`);
          const done = () => {
            res.off('finish', done);
            res.off('close', done);
            const route = routeOf(req);
            const status = res.statusCode;
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            duration.record(seconds, { method: req.method, route, status: String(status) });
            span.updateName(`${req.method} ${route}`);
            span.setAttribute('http.route', route);
            span.setAttribute('http.response.status_code', status);
            if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
            const line = { method: req.method, route, status, durationMs: Math.round(seconds * 1e4) / 10, aborted: !res.writableFinished };
            context.with(spanCtx, () => (status >= 500 ? req.log.error(line, 'request failed') : req.log.info(line, 'request')));
            resolve();
          };
          res.on('finish', done);
          res.on('close', done);
          next();
        }),
    );
  };
}
