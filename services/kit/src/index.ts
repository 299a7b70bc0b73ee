export { readCloudEvent, cloudEventHeaders, type CloudEventMeta, eventSource } from './cloudevents';
export { type Clock, ManualClock, systemClock } from './clock';
export { decode, decodeJson, encode, toJson } from './codec';
export { commonConfig, ConfigError, csv, databaseUrl, healthPort, loadConfig } from './config';
export { Db, pgErrorCode, pgErrors, type Tx } from './db';
export {
  type ErrorCodeName,
  errorCodeNames,
  httpStatusOf,
  invalidRequest,
  isErrorCodeName,
  ServiceError,
  ServiceUnavailableError,
} from './errors';
export { cachedReadiness, type Readiness, type ReadinessCheck, type ReadinessResult, readiness, startHealthServer } from './health';
export { classifyFailure, type FailureKind } from './failures';
export {
  consumeEvents,
  type ConsumerMetrics,
  type DeadLetterEntry,
  type DeadLetterFilter,
  deadLetterHeaders,
  defaultDuplicateWindowMs,
  defaultRetryPolicy,
  ensureConsumer,
  ensureStream,
  isJetStreamUnavailable,
  retryWhileJetStreamUnavailable,
  listDeadLetters,
  replayDeadLetters,
  retryDelayMs,
  type ConsumerSpec,
  type ReceivedEvent,
  type RetryPolicy,
  type RunningConsumer,
  type StreamSpec,
} from './jetstream';
export { type MainOptions, runMain, runService, type Stop } from './lifecycle';
export { createLogger, type Logger } from './logger';
export {
  type Counter,
  createMetrics,
  fromZero,
  type Gauge,
  type Histogram,
  type Meter,
  type Metrics,
  type MetricsOptions,
  type PrometheusType,
} from './metrics';
export { migrate } from './migrate';
export {
  connectNats,
  type JetStreamClient,
  type JetStreamManager,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  publishBytes,
  publishCore,
  publishEvent,
  type Subscription,
} from './nats';
export {
  client,
  type RequestOptions,
  type RunningService,
  type ServeOptions,
  type Service,
  type ServiceClient,
  type ServiceImpl,
  serve,
  servePartial,
} from './rpc';
export { jetstream, jetstreamManager } from '@nats-io/jetstream';
export { createRuntime, type Runtime, type RuntimeConfig, type RuntimeOptions } from './runtime';
export { linkSignature, verifyLinkSignature } from './signed-links';
export { extractTraceContext, injectTraceContext, setupTelemetry, SpanKind, tracer, withSpan } from './telemetry';
export {
  inboxPrefix,
  type NatsPermissions,
  type NatsRole,
  type NatsUser,
  natsKeyVariable,
  natsPermissions,
  natsPublicKey,
  natsRoles,
  newNatsSeed,
  renderNatsAuthorization,
  renderNatsAuthorizationFromEnv,
} from './nats-auth';
export { Batcher, type BatcherOptions } from './batcher';
export { Outbox, type OutboxEvent, outboxEvent, type OutboxOptions } from './outbox';
