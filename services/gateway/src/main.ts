import { runMain } from '@lessoncall/kit';
import { loadGatewayConfig } from './config';
import { startGateway } from './gateway';

await runMain({
  service: 'gateway',
  loadConfig: loadGatewayConfig,
  async start(config, logger) {
    const gateway = await startGateway(config, { logger });
    return () => gateway.stop();
  },
});
