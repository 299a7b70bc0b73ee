import type { Logger } from './logger';

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
