export { configSchema, loadTurnConfig, type TurnConfig } from './config';
export { type TurnRestCredential, turnRestCredential } from './credentials';
export { iceServersFor, precallIceServersFor, startTurnService, type TurnDeps, type TurnService } from './service';
