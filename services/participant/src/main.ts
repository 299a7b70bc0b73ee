import { runMain } from '@lessoncall/kit';
import { loadParticipantConfig } from './config';
import { startParticipantService } from './service';

await runMain({
  service: 'participant',
  loadConfig: () => loadParticipantConfig(),
  start: async (config, logger) => {
    const s = await startParticipantService(config, { logger });
    return () => s.stop();
  },
});
