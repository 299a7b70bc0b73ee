export { configSchema, loadMeetingConfig, type MeetingConfig } from './config';
export { startMeetingService, type MeetingService, type MeetingServiceDeps } from './service';
export type { SweepResult } from './lifecycle';
export { type FailureCounter, type LockoutPolicy, lockedForSeconds, passcodeMatches, registerFailure } from './lockout';
// Transitional: web/e2e/meetings.ts still imports these from here. They live in
// tools/booking-system (a dev dependency, so not in the service's image); drop this line
// once web imports @lessoncall/booking-system itself. main.ts never loads this file.
export { bookAndWait, demoStudentId, demoTutorId } from '@lessoncall/booking-system';
