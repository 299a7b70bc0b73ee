export { configSchema, type JanusNodeSpec, loadMediaConfig, type MediaConfig } from './config';
export { loadOf, NodePool, type NodeState, NoJanusNodeError } from './nodes';
export { findTracks, mixArgs, type ParticipantTracks, Recordings } from './recordings';
export { recordingDirOf, Rooms, type RoomRow } from './rooms';
export { LocalDiskStorage, type RecordingStorage, S3Storage } from './storage';
export { type MediaService, type MediaServiceDeps, startMediaService, storageFor } from './service';
