export { configSchema, loadParticipantConfig, type ParticipantConfig } from './config';
export { startParticipantService, type ParticipantDeps, type ParticipantService } from './service';
export type { SweepResult } from './sweep';
export { computeAttendance, type SessionSpan, type UserAttendance } from './attendance';
