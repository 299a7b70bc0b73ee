/**
 * One run of the lobby's connection check, as a small state machine the lobby renders
 * (useSyncExternalStore): idle → running (credentials → relay → loopback) → done | failed.
 * Started by the user, cancelled by Join (it never holds Join up), run again at will. The
 * probes are injected, so the order, the cancel and the outcome are tested without a browser.
 */
import { describeError, type UserMessage } from './errors';
import {
  describePrecall,
  type LoopbackSample,
  loopbackMeasures,
  loopbackTransport,
  type PrecallResult,
  type PrecallVerdict,
  type TransportResult,
  type TurnTransport,
  turnUrlsByTransport,
} from './precall';
import { type LoopbackTracks, singleUrlServer } from './precall-probe';

export type PrecallStep = 'credentials' | 'relay' | 'loopback';

export type PrecallSnapshot =
  | { phase: 'idle' }
  | { phase: 'running'; step: PrecallStep; transports: TransportResult[] }
  | { phase: 'done'; result: PrecallResult; verdict: PrecallVerdict }
  | { phase: 'failed'; error: UserMessage };

export interface PrecallDeps {
  /** The ICE servers to probe (POST …/precall). */
  credentials(): Promise<RTCIceServer[]>;
  /** The lobby's tracks now; cameraOff: the user turned it off (not tested, not a failure). */
  tracks(): LoopbackTracks & { cameraOff: boolean };
  relay(transport: TurnTransport, server: RTCIceServer, signal: AbortSignal): Promise<TransportResult>;
  loopback(server: RTCIceServer, tracks: LoopbackTracks, signal: AbortSignal): Promise<LoopbackSample[] | undefined>;
}

export const transportOrder: readonly TurnTransport[] = ['udp', 'tcp', 'tls'];

/** One RTCIceServer per transport the server list offers, each with only that URL. */
export function serversByTransport(servers: readonly RTCIceServer[]): Partial<Record<TurnTransport, RTCIceServer>> {
  const out: Partial<Record<TurnTransport, RTCIceServer>> = {};
  for (const server of servers) {
    const urls = typeof server.urls === 'string' ? [server.urls] : [...server.urls];
    for (const [t, url] of Object.entries(turnUrlsByTransport(urls)) as [TurnTransport, string][]) {
      out[t] ??= singleUrlServer(server, url);
    }
  }
  return out;
}

export class PrecallCheck {
  private snap: PrecallSnapshot = { phase: 'idle' };
  private run: AbortController | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly deps: PrecallDeps) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };

  getSnapshot = (): PrecallSnapshot => this.snap;

  get running(): boolean {
    return this.snap.phase === 'running';
  }

  /** Runs the check; a second call while one runs does nothing. Resolves when it ends or is cancelled. */
  async start(): Promise<void> {
    if (this.run) return;
    const run = new AbortController();
    this.run = run;
    const { signal } = run;
    const set = (s: PrecallSnapshot) => {
      if (signal.aborted) return;
      this.snap = s;
      for (const l of this.listeners) l();
    };
    try {
      set({ phase: 'running', step: 'credentials', transports: [] });
      const servers = serversByTransport(await this.deps.credentials());
      const transports: TransportResult[] = transportOrder.map((t) => ({ transport: t, reachable: undefined }));
      set({ phase: 'running', step: 'relay', transports: [...transports] });
      await Promise.all(
        transportOrder.map(async (t, i) => {
          const server = servers[t];
          if (!server) return;
          transports[i] = await this.deps.relay(t, server, signal);
          set({ phase: 'running', step: 'relay', transports: [...transports] });
        }),
      );
      if (signal.aborted) return;
      set({ phase: 'running', step: 'loopback', transports: [...transports] });
      const tracks = this.deps.tracks();
      const tested = { camera: !tracks.cameraOff, microphone: true };
      const via = loopbackTransport(transports);
      const server = via ? servers[via] : undefined;
      let samples: LoopbackSample[] | undefined;
      if (server) {
        samples = await this.deps.loopback(server, { audio: tracks.audio, video: tracks.cameraOff ? undefined : tracks.video }, signal).catch((err) => {
          if (signal.aborted) throw err;
          return undefined;
        });
      }
      const measured = samples
        ? loopbackMeasures(samples, tested)
        : // No call through the relay: all that can be said is whether the devices gave a track.
          {
            camera: tested.camera ? tracks.video?.readyState === 'live' : undefined,
            microphone: tracks.audio?.readyState === 'live',
          };
      const result: PrecallResult = { transports, ...measured, ...(server && !samples ? { loopbackFailed: true } : {}) };
      set({ phase: 'done', result, verdict: describePrecall(result) });
    } catch (err) {
      if (!signal.aborted) set({ phase: 'failed', error: describeError(err) });
    } finally {
      if (this.run === run) this.run = undefined;
    }
  }

  /** Join pressed (or the lobby left): stop the probes at once and forget this run. */
  cancel(): void {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    run.abort();
    this.snap = { phase: 'idle' };
    for (const l of this.listeners) l();
  }
}
