export { configSchema, loadMeetingConfig, type MeetingConfig } from './config';
export { startMeetingService, type MeetingService, type MeetingServiceDeps } from './service';
export type { SweepResult } from './lifecycle';
export { type FailureCounter, type LockoutPolicy, lockedForSeconds, passcodeMatches, registerFailure } from './lockout';
export { type Booking, bookAndWait, bookingConfirmed, bookingSystemSource, parseDuration, parseEnvFile, publishBookingConfirmed } from './booking-client';
export { demoStudentId, demoTutorId, runBookingCommand } from './booking-command';
