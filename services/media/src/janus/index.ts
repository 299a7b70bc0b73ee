export { type CreateRoom, JanusAdmin, type RoomInfo } from './admin';
export { JanusClient, JanusHandle, type Jsep, type PluginReply } from './client';
export { roomJoinToken, roomSecret, signedJanusToken } from './tokens';
export { JanusError, JanusUnavailableError, janusCodes } from './transport';
