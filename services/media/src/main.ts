import { runMain } from '@lessoncall/kit';
import { loadMediaConfig } from './config';
import { startMediaService } from './service';

await runMain({
  service: 'media',
  loadConfig: () => loadMediaConfig(),
  start: async (config, logger) => {
    const s = await startMediaService(config, { logger });
    return () => s.stop();
  },
});
