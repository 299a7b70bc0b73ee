import { runMain } from '@lessoncall/kit';
import { loadMeetingConfig } from './config';
import { startMeetingService } from './service';

await runMain({
  service: 'meeting',
  loadConfig: () => loadMeetingConfig(),
  start: async (config, logger) => {
    const s = await startMeetingService(config, { logger });
    return () => s.stop();
  },
});
