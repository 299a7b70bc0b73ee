import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type Clock, createRuntime, invalidRequest, type Logger, type Runtime, serve, systemClock } from '@lessoncall/kit';
import { type IceServerSchema, isValidMeetingId, type TurnCredentialsResponse, TurnCredentialsResponseSchema, TurnService as TurnRpc } from '@lessoncall/proto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { TurnConfig } from './config';
import { turnRestCredential } from './credentials';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TurnDeps {
  logger?: Logger;
  clock?: Clock;
  telemetry?: false;
}

export interface TurnService {
  runtime: Runtime;
  stop(): Promise<void>;
}

type IceServersConfig = Pick<TurnConfig, 'TURN_SECRET' | 'TURN_URLS' | 'STUN_URLS' | 'TURN_TTL_SECONDS'>;
type PrecallConfig = Pick<TurnConfig, 'TURN_SECRET' | 'TURN_URLS' | 'TURN_PRECALL_TTL_SECONDS'>;

/** The RTCConfiguration.iceServers a participant gets: STUN, then TURN with a credential that expires. */
export function iceServersFor(config: IceServersConfig, userId: string, now: Date): TurnCredentialsResponse {
  const { username, credential, expiresAt } = turnRestCredential(config.TURN_SECRET, userId, now, config.TURN_TTL_SECONDS);
  const iceServers: MessageInitShape<typeof IceServerSchema>[] = [];
  if (config.STUN_URLS.length > 0) iceServers.push({ urls: config.STUN_URLS });
  iceServers.push({ urls: config.TURN_URLS, username, credential });
  return create(TurnCredentialsResponseSchema, { iceServers, ttlSeconds: config.TURN_TTL_SECONDS, expiresAt: timestampFromDate(expiresAt) });
}

/**
 * The lobby's connection check: TURN only (it forces relay, one URL per transport) with the
 * short precall TTL, so a credential handed out before Join expires minutes later.
 */
export function precallIceServersFor(config: PrecallConfig, userId: string, now: Date): TurnCredentialsResponse {
  const ttl = config.TURN_PRECALL_TTL_SECONDS;
  const { username, credential, expiresAt } = turnRestCredential(config.TURN_SECRET, userId, now, ttl);
  return create(TurnCredentialsResponseSchema, {
    iceServers: [{ urls: config.TURN_URLS, username, credential }],
    ttlSeconds: ttl,
    expiresAt: timestampFromDate(expiresAt),
  });
}

function validateAsker(req: { userId: string; meetingId: string }): void {
  if (!uuidPattern.test(req.userId)) throw invalidRequest('userId', 'userId must be a uuid');
  if (!isValidMeetingId(req.meetingId)) throw invalidRequest('meetingId', 'meetingId must be MID- followed by 16 letters or digits');
}

/** Answers `svc.turn.credentials` and `svc.turn.precall_credentials` in the `turn` queue group. Stateless: run as many replicas as wanted. */
export async function startTurnService(config: TurnConfig, deps: TurnDeps = {}): Promise<TurnService> {
  const runtime = await createRuntime('turn', config, { logger: deps.logger, ...(deps.telemetry === false ? { telemetry: false } : {}) });
  const clock = deps.clock ?? systemClock;
  const { logger } = runtime;
  const issued = runtime.metrics.meter.createCounter<{ purpose: 'call' | 'precall' }>('turn_credentials_issued_total', {
    description: 'TURN REST credentials issued, by purpose (call: with a join; precall: the lobby check)',
  });

  /** Both methods: the same checks, one issuer each, counted by purpose. */
  const credentials =
    (purpose: 'call' | 'precall', issue: (userId: string, now: Date) => TurnCredentialsResponse) => async (req: { userId: string; meetingId: string }) => {
      validateAsker(req);
      const res = issue(req.userId, clock.now());
      issued.add(1, { purpose });
      logger.debug({ meetingId: req.meetingId, userId: req.userId, ttlSeconds: res.ttlSeconds, purpose }, 'issued TURN credentials');
      return res;
    };
  const api = await serve(
    runtime.nc,
    TurnRpc,
    {
      turnCredentials: credentials('call', (userId, now) => iceServersFor(config, userId, now)),
      precallCredentials: credentials('precall', (userId, now) => precallIceServersFor(config, userId, now)),
    },
    { logger },
  );

  runtime.markStarted();
  logger.info(
    { turnUrls: config.TURN_URLS, stunUrls: config.STUN_URLS, ttlSeconds: config.TURN_TTL_SECONDS, precallTtlSeconds: config.TURN_PRECALL_TTL_SECONDS },
    'turn service ready',
  );
  return {
    runtime,
    async stop() {
      await api.stop().catch(() => {});
      await runtime.close();
    },
  };
}
