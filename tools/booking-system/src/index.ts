export { type Booking, bookAndWait, bookingConfirmed, bookingSystemSource, parseDuration, parseEnvFile, publishBookingConfirmed } from './client';
export { demoStudentId, demoTutorId, runBookingCommand } from './command';
