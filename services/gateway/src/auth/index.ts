export type { JWTPayload } from 'jose';
export { type BookingSystemKey, newBookingSystemKey, signBookingSystemToken } from './booking';
export { type DemoUser, type DevTokenOptions, demoUsers, devIssuerKid, signDemoToken, signDevToken } from './dev';
export { bearerToken, createTokenVerifier, type Identity, isUuid, type Role, type TokenVerifier } from './verify';
