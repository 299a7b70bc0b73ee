import { createServer } from 'node:http';
import { createRuntime, type Logger, type Runtime, type RuntimeOptions } from '@lessoncall/kit';
import { createTokenVerifier, type TokenVerifier } from './auth/index';
import { refusingRevoked, startRevocations } from './auth/revocations';
import type { GatewayConfig } from './config';
import { clientErrorHandler } from './rest/client-error';
import { createRestApp } from './rest/index';
import { attachWebSocket } from './ws/index';

export interface Gateway {
  port: number;
  runtime: Runtime;
  /** Stop taking work: tell sockets to reconnect elsewhere, drain, close. */
  stop(): Promise<void>;
  /** The WebSocket side's `settled()`: closes begun have been handled, their presence reports answered. */
  settled(): Promise<void>;
}

/** Wires REST and WebSocket on one HTTP server. Tests start it in-process exactly as main does. */
export async function startGateway(
  config: GatewayConfig,
  options: {
    verifier?: TokenVerifier;
    logger?: Logger;
    telemetry?: RuntimeOptions['telemetry'];
    /** The drain's reconnect spread (0–1 of WS_RECONNECT_SPREAD_MS); tests pin it. */
    random?: () => number;
  } = {},
): Promise<Gateway> {
  const runtime = await createRuntime('gateway', config, { logger: options.logger, telemetry: options.telemetry });
  const revocations = await startRevocations({
    js: runtime.js,
    ttlSeconds: config.TOKEN_REVOCATION_TTL_SECONDS,
    replicas: config.JETSTREAM_REPLICAS,
    logger: runtime.logger,
  });
  const verifier = refusingRevoked(options.verifier ?? createTokenVerifier(config), revocations);
  let draining = false;
  const app = createRestApp({ config, runtime, verifier, revocations, isDraining: () => draining });
  const server = createServer(app);
  server.on('clientError', clientErrorHandler(runtime.metrics.meter));
  const ws = attachWebSocket({ server, config, runtime, verifier, revocations, ...(options.random ? { random: options.random } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  runtime.markStarted();
  runtime.logger.info({ port }, 'gateway listening');
  return {
    port,
    runtime,
    settled: () => ws.settled(),
    async stop() {
      draining = true;
      await ws.drain(config.DRAIN_TIMEOUT_MS);
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await revocations.stop();
      await runtime.close();
    },
  };
}
