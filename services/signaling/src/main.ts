import { runMain } from '@lessoncall/kit';
import { loadSignalingConfig } from './config';
import { startSignalingService } from './service';

await runMain({
  service: 'signaling',
  loadConfig: loadSignalingConfig,
  start: async (config, logger) => {
    const s = await startSignalingService(config, { logger });
    return () => s.stop();
  },
});
