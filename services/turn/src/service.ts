import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type Clock, Counter, createRuntime, invalidRequest, type Logger, type Runtime, serve, systemClock } from '@lessoncall/kit';
import {
  type IceServerSchema,
  isValidMeetingId,
  queues,
  rpc,
  TurnCredentialsRequestSchema,
  type TurnCredentialsResponse,
  TurnCredentialsResponseSchema,
} from '@lessoncall/proto';
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

/** The RTCConfiguration.iceServers a participant gets: STUN, then TURN with a credential that expires. */
export function iceServersFor(config: IceServersConfig, userId: string, now: Date): TurnCredentialsResponse {
  const { username, credential, expiresAt } = turnRestCredential(config.TURN_SECRET, userId, now, config.TURN_TTL_SECONDS);
  const iceServers: MessageInitShape<typeof IceServerSchema>[] = [];
  if (config.STUN_URLS.length > 0) iceServers.push({ urls: config.STUN_URLS });
  iceServers.push({ urls: config.TURN_URLS, username, credential });
  return create(TurnCredentialsResponseSchema, { iceServers, ttlSeconds: config.TURN_TTL_SECONDS, expiresAt: timestampFromDate(expiresAt) });
}

/** Answers `svc.turn.credentials` in the `turn` queue group. Stateless: run as many replicas as wanted. */
export async function startTurnService(config: TurnConfig, deps: TurnDeps = {}): Promise<TurnService> {
  const runtime = await createRuntime('turn', config, { logger: deps.logger, ...(deps.telemetry === false ? { telemetry: false } : {}) });
  const clock = deps.clock ?? systemClock;
  const { logger } = runtime;
  const issued = new Counter({ name: 'turn_credentials_issued_total', help: 'TURN REST credentials issued', registers: [runtime.registry] });

  const sub = serve(runtime.nc, {
    subject: rpc.turnCredentials,
    queue: queues.turn,
    request: TurnCredentialsRequestSchema,
    response: TurnCredentialsResponseSchema,
    logger,
    handler: async (req) => {
      if (!uuidPattern.test(req.userId)) throw invalidRequest('userId', 'userId must be a uuid');
      if (!isValidMeetingId(req.meetingId)) throw invalidRequest('meetingId', 'meetingId must be MID- followed by 16 letters or digits');
      const res = iceServersFor(config, req.userId, clock.now());
      issued.inc();
      logger.debug({ meetingId: req.meetingId, userId: req.userId, ttlSeconds: res.ttlSeconds }, 'issued TURN credentials');
      return res;
    },
  });

  logger.info({ turnUrls: config.TURN_URLS, stunUrls: config.STUN_URLS, ttlSeconds: config.TURN_TTL_SECONDS }, 'turn service ready');
  return {
    runtime,
    async stop() {
      await sub.drain().catch(() => {});
      await runtime.close();
    },
  };
}
