export { configSchema, type JanusNodeSpec, loadMediaConfig, type MediaConfig } from './config';
export { loadOf, NodePool, type NodeState, NoJanusNodeError } from './nodes';
export { recordingDirOf, Rooms, type RoomRow } from './rooms';
export { type MediaService, type MediaServiceDeps, startMediaService } from './service';
