export { closeCodes } from './session';
export { type AttachWebSocketOptions, attachWebSocket, type WebSocketGateway, wsPath } from './server';
