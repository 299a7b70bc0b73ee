export { configSchema, loadSignalingConfig, type SignalingConfig } from './config';
export { type LiveSessionRef, Roster } from './roster';
export { type SignalingDeps, type SignalingService, startSignalingService } from './service';
export { envelopeProblem, type SignalLimits, signalTypes } from './validate';
