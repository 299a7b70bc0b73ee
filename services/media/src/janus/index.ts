export { type CreateRoom, JanusAdmin, type RoomInfo } from './admin';
export { JanusClient, JanusHandle, type Jsep, nodeJanusClient, type PluginReply } from './client';
export { roomJoinToken, roomSecret, signedJanusToken } from './tokens';
export { JanusError, JanusUnavailableError, janusCodes, nodeJanusSocket, nodeWebSocket } from './transport';
