export type { JWTPayload } from 'jose';
export { type DemoUser, type DevTokenOptions, demoUsers, signDevToken } from './dev';
export { bearerToken, createTokenVerifier, type Identity, isUuid, type Role, type TokenVerifier } from './verify';
