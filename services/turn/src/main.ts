import { runMain } from '@lessoncall/kit';
import { loadTurnConfig } from './config';
import { startTurnService } from './service';

await runMain({
  service: 'turn',
  loadConfig: loadTurnConfig,
  start: async (config, logger) => {
    const s = await startTurnService(config, { logger });
    return () => s.stop();
  },
});
