import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { rpcQueue, rpcSubject, ServiceErrorSchema } from '@lessoncall/proto';
import { errors as natsErrors, headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { type Service as NatsService, type ServiceMsg, Svcm } from '@nats-io/services';
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

/** A service answering on the bus; `stop` drains its endpoints (in-flight requests are answered). */
export interface RunningService {
  stop(): Promise<void>;
}

/**
 * Answers every method of `service` in its queue group, as a NATS micro service: each method
 * is an endpoint (named after it, on its own subject), so `$SRV.PING|INFO|STATS` (`nats micro
 * ls`, `nats micro info meeting`) list it with its request and error counts. A ServiceError is
 * answered with its code (Nats-Service-Error-Code carries the HTTP-like status,
 * Nats-Service-Error the string code, the body a ServiceError); any other throw is logged and
 * answered as `internal` without details.
 */
export function serve<S extends Service>(nc: NatsConnection, service: S, impl: ServiceImpl<S>, options: ServeOptions): Promise<RunningService> {
  const missing = service.methods.filter((m) => typeof (impl as Record<string, unknown>)[m.localName] !== 'function');
  if (missing.length > 0) throw new Error(`${service.typeName}: no handler for ${missing.map((m) => m.name).join(', ')}`);
  return servePartial(nc, service, impl, options);
}

/**
 * Answers only the methods `impl` has: a stand-in for part of a service (tests, benchmarks).
 * A real service uses `serve`, which refuses to start with a method unanswered.
 */
export async function servePartial<S extends Service>(
  nc: NatsConnection,
  service: S,
  impl: Partial<ServiceImpl<S>>,
  options: ServeOptions,
): Promise<RunningService> {
  const queue = rpcQueue(service);
  const handlers = impl as Record<string, ((req: unknown) => Promise<never>) | undefined>;
  const running: NatsService = await new Svcm(nc).add({
    name: queue,
    version: serviceVersion,
    description: service.typeName,
    queue,
  });
  for (const method of service.methods) {
    const handler = handlers[method.localName];
    if (handler) serveMethod(running, method, queue, handler, options.logger);
  }
  return {
    async stop() {
      if (!running.isStopped) await running.stop();
    },
  };
}

/** The contract's version as `$SRV.INFO` reports it: the proto package's (lessoncall.v1). */
const serviceVersion = '1.0.0';

function serveMethod(running: NatsService, method: DescMethod, queue: string, handler: (req: unknown) => Promise<never>, logger: Logger): void {
  const subject = rpcSubject(method);
  running.addEndpoint(method.name, {
    subject,
    queue,
    metadata: { request: method.input.typeName, response: method.output.typeName },
    handler: (err, msg) => {
      if (err) {
        logger.error({ err, subject }, 'endpoint error');
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
      const reason = unavailableReason(err);
      if (reason) throw new ServiceUnavailableError(subject, reason, { cause: err });
      throw err;
    }
    if (reply.headers?.get('Nats-Service-Error-Code')) {
      throw ServiceError.fromMessage(decode(ServiceErrorSchema, reply.data), subject);
    }
    return decode(resSchema, reply.data);
  });
}

/** Why a request got no answer, when that is what its error says (nats.js v3 error classes). */
function unavailableReason(err: unknown): 'no_responders' | 'timeout' | 'disconnected' | undefined {
  if (err instanceof natsErrors.TimeoutError) return 'timeout';
  if (err instanceof natsErrors.RequestError) {
    if (err.isNoResponders()) return 'no_responders';
    if (err.cause instanceof natsErrors.TimeoutError) return 'timeout';
    // "connection disconnected": the request was in flight when the connection dropped.
    return 'disconnected';
  }
  if (err instanceof natsErrors.ClosedConnectionError || err instanceof natsErrors.DrainingConnectionError) return 'disconnected';
  return undefined;
}

/**
 * Nats-Service-Error-Code is the HTTP-like status, Nats-Service-Error the string code, the body
 * the ServiceError message. respondError counts the error in the endpoint's $SRV stats; no
 * status is put on the header line (nats.js reads a 503 status as "no responders").
 */
function respondError(msg: ServiceMsg, e: unknown, logger: Logger): void {
  const error = e instanceof ServiceError ? e : new ServiceError('internal', 'internal error');
  if (!(e instanceof ServiceError)) logger.error({ err: e, subject: msg.subject }, 'handler failed');
  if (msg.reply) msg.respondError(error.status, error.code, encode(ServiceErrorSchema, error.toMessage()));
}
