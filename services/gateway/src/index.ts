export {
  bearerToken,
  type BookingSystemKey,
  createTokenVerifier,
  demoUsers,
  type Identity,
  newBookingSystemKey,
  signBookingSystemToken,
  signDevToken,
  type TokenVerifier,
} from './auth/index';
export { configSchema, type GatewayConfig, loadGatewayConfig } from './config';
export { type Gateway, startGateway } from './gateway';
