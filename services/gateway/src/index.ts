export { bearerToken, createTokenVerifier, demoUsers, type Identity, signDevToken, type TokenVerifier } from './auth/index';
export { configSchema, type GatewayConfig, loadGatewayConfig } from './config';
export { type Gateway, startGateway } from './gateway';
