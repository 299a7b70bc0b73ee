import { ConfigError } from './config';
import { createLogger, type Logger } from './logger';

export type Stop = () => Promise<void>;

export interface RunOptions {
  logger: Logger;
  shutdownTimeoutMs: number;
  /** Starts the service and returns how to stop it: stop taking work, drain, close. */
  start: () => Promise<Stop>;
}

/**
 * Runs a service until SIGTERM/SIGINT. The first signal stops it gracefully within the
 * timeout; a second signal exits at once.
 */
export async function runService({ logger, shutdownTimeoutMs, start }: RunOptions): Promise<void> {
  let stop: Stop;
  try {
    stop = await start();
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
  logger.info('started');
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out, exiting');
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    stop()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export interface MainOptions<C> {
  service: string;
  /** Reads the environment; a ConfigError is printed as a list of variables and exits 1. */
  loadConfig: () => C;
  start: (config: C, logger: Logger) => Promise<Stop>;
}

/** The whole of a service's main.ts: config, logger, start, and signal handling. */
export async function runMain<C extends { LOG_LEVEL: string; LOG_PRETTY: boolean; SHUTDOWN_TIMEOUT_MS: number }>(options: MainOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.loadConfig();
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof Error && /invalid configuration/.test(err.message))) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(options.service, { level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  await runService({ logger, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS, start: () => options.start(config, logger) });
}
