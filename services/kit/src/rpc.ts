import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { rpcQueue, rpcSubject, ServiceErrorSchema } from '@lessoncall/proto';
import { ErrorCode as NatsErrorCode, headers as natsHeaders, type Msg, type NatsConnection, NatsError, type Subscription } from 'nats';
import { decode, encode } from './codec';
import { ServiceError, ServiceUnavailableError } from './errors';
import type { Logger } from './logger';
import { extractTraceContext, injectTraceContext, SpanKind, withSpan } from './telemetry';

/**
 * Request/reply APIs are protobuf `service`s (proto/lessoncall/v1/*_service.proto). Everything
 * a caller or a server needs is read off the generated descriptor: the subject of each method
 * (its `nats_subject` option), the service's queue group (`nats_queue`) and the two message
 * schemas. Nobody writes a subject or a schema pair by hand.
 */

/** A generated service descriptor (`MeetingService`, …): its methods by their local (lowerCamel) names. */
export type Service = Omit<DescService, 'method'> & { method: Record<string, DescMethod> };

/** A service's handlers, one per method, typed by the method's request and response: `ServiceImpl<typeof MeetingService>`. */
export type ServiceImpl<S extends Service> = {
  [K in keyof S['method']]: (req: MessageShape<S['method'][K]['input']>) => Promise<MessageInitShape<S['method'][K]['output']>>;
};

/** A typed caller of a service: one function per method. */
export type ServiceClient<S extends Service> = {
  [K in keyof S['method']]: (req: MessageInitShape<S['method'][K]['input']>, options?: RequestOptions) => Promise<MessageShape<S['method'][K]['output']>>;
};

export interface RequestOptions {
  timeoutMs: number;
}

export interface ServeOptions {
  logger: Logger;
}

/**
 * A caller of every method of `service`. An error reply becomes a ServiceError with its code;
 * nobody listening or no answer in time becomes ServiceUnavailableError — never a hang.
 * `defaults.timeoutMs` applies unless a call passes its own options.
 */
export function client<S extends Service>(nc: NatsConnection, service: S, defaults: RequestOptions): ServiceClient<S> {
  const methods: Record<string, (req: never, options?: RequestOptions) => Promise<unknown>> = {};
  for (const method of service.methods) {
    const subject = rpcSubject(method);
    methods[method.localName] = (req, options) => request(nc, subject, method.input, req, method.output, options ?? defaults);
  }
  return methods as unknown as ServiceClient<S>;
}

/**
 * Answers every method of `service` in its queue group. A ServiceError is answered with its
 * code (Nats-Service-Error-Code carries the HTTP-like status, the body the string code); any
 * other throw is logged and answered as `internal` without details.
 */
export function serve<S extends Service>(nc: NatsConnection, service: S, impl: ServiceImpl<S>, options: ServeOptions): Subscription[] {
  const missing = service.methods.filter((m) => typeof (impl as Record<string, unknown>)[m.localName] !== 'function');
  if (missing.length > 0) throw new Error(`${service.typeName}: no handler for ${missing.map((m) => m.name).join(', ')}`);
  return servePartial(nc, service, impl, options);
}

/**
 * Answers only the methods `impl` has: a stand-in for part of a service (tests, benchmarks).
 * A real service uses `serve`, which refuses to start with a method unanswered.
 */
export function servePartial<S extends Service>(nc: NatsConnection, service: S, impl: Partial<ServiceImpl<S>>, options: ServeOptions): Subscription[] {
  const queue = rpcQueue(service);
  const handlers = impl as Record<string, ((req: unknown) => Promise<never>) | undefined>;
  return service.methods.flatMap((method) => {
    const handler = handlers[method.localName];
    return handler ? [serveMethod(nc, method, queue, handler, options.logger)] : [];
  });
}

function serveMethod(nc: NatsConnection, method: DescMethod, queue: string, handler: (req: unknown) => Promise<never>, logger: Logger): Subscription {
  const subject = rpcSubject(method);
  return nc.subscribe(subject, {
    queue,
    callback: (err, msg) => {
      if (err) {
        logger.error({ err, subject }, 'subscription error');
        return;
      }
      void withSpan(
        `handle ${subject}`,
        { kind: SpanKind.SERVER, parent: extractTraceContext(msg.headers), attributes: { 'messaging.destination.name': subject } },
        async () => {
          try {
            const res = await handler(decode(method.input, msg.data));
            msg.respond(encode(method.output, res));
          } catch (e) {
            respondError(msg, e, logger);
          }
        },
      );
    },
  });
}

async function request<I extends DescMessage, O extends DescMessage>(
  nc: NatsConnection,
  subject: string,
  reqSchema: I,
  body: MessageInitShape<I>,
  resSchema: O,
  options: RequestOptions,
): Promise<MessageShape<O>> {
  return withSpan(`request ${subject}`, { kind: SpanKind.CLIENT, attributes: { 'messaging.destination.name': subject } }, async () => {
    const h = natsHeaders();
    injectTraceContext(h);
    let reply: Msg;
    try {
      reply = await nc.request(subject, encode(reqSchema, body), { timeout: options.timeoutMs, headers: h });
    } catch (err) {
      if (err instanceof NatsError) {
        if (err.code === NatsErrorCode.NoResponders) throw new ServiceUnavailableError(subject, 'no_responders', { cause: err });
        if (err.code === NatsErrorCode.Timeout) throw new ServiceUnavailableError(subject, 'timeout', { cause: err });
        if (err.code === NatsErrorCode.ConnectionClosed || err.code === NatsErrorCode.Disconnect) {
          throw new ServiceUnavailableError(subject, 'disconnected', { cause: err });
        }
      }
      throw err;
    }
    if (reply.headers?.get('Nats-Service-Error-Code')) {
      throw ServiceError.fromMessage(decode(ServiceErrorSchema, reply.data), subject);
    }
    return decode(resSchema, reply.data);
  });
}

function respondError(msg: Msg, e: unknown, logger: Logger): void {
  const error = e instanceof ServiceError ? e : new ServiceError('internal', 'internal error');
  if (!(e instanceof ServiceError)) logger.error({ err: e, subject: msg.subject }, 'handler failed');
  // No status on the header line: nats.js reads a 503 status as "no responders".
  const h = natsHeaders();
  h.set('Nats-Service-Error-Code', String(error.status));
  h.set('Nats-Service-Error', error.code);
  if (msg.reply) msg.respond(encode(ServiceErrorSchema, error.toMessage()), { headers: h });
}
