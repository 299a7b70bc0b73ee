/**
 * The sfu side of a call: the session on the Janus room (sfu.ts) for the access the gateway
 * gives, asked for again when the room or its node goes away; each other publisher's tile and
 * stats; our uplink; and what the stage shows, pushed to the room debounced (a resize or a page
 * turn sends one configure per feed). The controller tells it when access arrives; the roster
 * stays the controller's.
 */
import type { SfuAccess } from '@lessoncall/proto';
import type { MediaPathOptions, RemoteMedia } from './mesh';
import { browserSimulcasts, type SfuOptions, SfuSession, type VideoWanted } from './sfu';
import { type PeerQuality, type StatLike, type StatsSample, summarizeStats, summarizeUplink, type UplinkQuality, type UplinkSample } from './stats';

/** What the room does with a session (tests pass a fake). */
export type RoomSession = Pick<SfuSession, 'access' | 'start' | 'setTrack' | 'setVideoWanted' | 'audioLevel' | 'publisherConnection' | 'connections' | 'close'>;

export interface SfuRoomEvents {
  changed(): void;
  /** A publisher's media arrived (the join report's first media). */
  media(): void;
  /** The room went away: ask the gateway for access again (it may have moved). */
  refresh(): void;
  notify(text: string): void;
  log(message: string, error?: unknown): void;
}

export interface SfuRoomOptions extends MediaPathOptions {
  iceServers: () => RTCIceServer[];
  events: SfuRoomEvents;
  createSession?: (options: SfuOptions) => RoomSession;
}

export interface Uplink {
  quality: UplinkQuality | undefined;
  connection: RTCPeerConnectionState;
}

/** How long after the room is lost access is asked for again. */
const refreshDelayMs = 1_000;
/** The stage's changes within this long go to the room as one. */
const stageDelayMs = 250;

export class SfuRoom {
  private session: RoomSession | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private stageVideo: ReadonlyMap<string, VideoWanted> | undefined;
  private stageVideoKey = '';
  private stageVideoTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly samples = new Map<string, StatsSample>();
  private uplinkState: (Uplink & { sample?: UplinkSample }) | undefined;
  private readonly tiles = new Map<string, RemoteMedia>();

  constructor(private readonly opts: SfuRoomOptions) {}

  /** Our own connection to the room, for our tile. */
  get uplink(): Uplink | undefined {
    return this.uplinkState && { quality: this.uplinkState.quality, connection: this.uplinkState.connection };
  }

  /**
   * The room's access (after the welcome, and again when the room moved to another node): join
   * the room, publish once, subscribe to the others. A refresh of the same room changes nothing.
   */
  async join(access: SfuAccess): Promise<void> {
    const { events } = this.opts;
    events.log('sfu: joining the room', { url: access.url, generation: access.generation, reconnect: access.reconnect });
    if (this.session && !access.reconnect && this.session.access.url === access.url && this.session.access.generation === access.generation) return;
    if (access.reconnect) events.notify('Reconnecting the video…');
    const old = this.session;
    const options: SfuOptions = {
      access,
      iceServers: this.opts.iceServers(),
      forceRelay: this.opts.forceRelay,
      local: this.opts.local,
      simulcast: browserSimulcasts(globalThis.navigator?.userAgent ?? ''),
      events: {
        remoteStream: (sessionId, stream) => {
          events.media();
          this.update(sessionId, { stream, connection: 'connected' });
        },
        remoteGone: (sessionId) => this.update(sessionId, { connection: 'disconnected' }),
        connectionState: (state) => {
          if (this.session !== session) return;
          this.uplinkState = { quality: this.uplinkState?.quality, connection: state };
          events.changed();
          if (state === 'failed') this.askAgain();
        },
        lost: () => this.askAgain(),
        log: (message, error) => events.log(`sfu: ${message}`, error),
      },
    };
    // Synchronously, before any await: a second access arriving meanwhile sees this session.
    const session = this.opts.createSession ? this.opts.createSession(options) : new SfuSession(options);
    this.session = session;
    session.setVideoWanted(this.stageVideo);
    await old?.close().catch(() => {});
    for (const id of this.tiles.keys()) this.update(id, { connection: 'connecting' });
    try {
      await session.start();
      events.log('sfu: publishing', { url: access.url });
    } catch (err) {
      events.log('sfu: could not join the room', err);
      if (this.session === session) this.askAgain();
    }
  }

  /**
   * What the stage shows: the feeds on the current page and each one's simulcast layer. The room
   * stops sending the video of everyone else. Undefined (a 1:1 lesson's stage): all, at the best layer.
   */
  setStageVideo(wanted: ReadonlyMap<string, VideoWanted> | undefined): void {
    const key = wanted ? JSON.stringify([...wanted].sort(([a], [b]) => a.localeCompare(b))) : '';
    if (key === this.stageVideoKey) return;
    this.stageVideoKey = key;
    this.stageVideo = wanted;
    if (this.stageVideoTimer) clearTimeout(this.stageVideoTimer);
    this.stageVideoTimer = setTimeout(() => {
      this.stageVideoTimer = undefined;
      this.session?.setVideoWanted(wanted);
    }, stageDelayMs);
  }

  /** Swaps what our publisher sends (replaceTrack). */
  async setTrack(kind: 'audio' | 'video', track: MediaStreamTrack | undefined): Promise<void> {
    await this.session?.setTrack(kind, track);
  }

  tile(sessionId: string): RemoteMedia | undefined {
    return this.tiles.get(sessionId);
  }

  /** That session left the meeting. */
  drop(sessionId: string): void {
    this.tiles.delete(sessionId);
  }

  /** One subscription per other publisher, keyed by its session like a mesh link. */
  connections(): [string, RTCPeerConnection][] {
    return (this.session?.connections() ?? []).map(({ sessionId, pc }) => [sessionId, pc]);
  }

  publisher(): RTCPeerConnection | undefined {
    return this.session?.publisherConnection();
  }

  audioLevels(): [string, () => number][] {
    const session = this.session;
    if (!session) return [];
    return session.connections().map(({ sessionId }) => [sessionId, () => session.audioLevel(sessionId)]);
  }

  /** Each subscription's inbound quality on its tile (and to `report`), our publisher's as the uplink. */
  async pollQuality(report: (sessionId: string, quality: PeerQuality) => void): Promise<void> {
    const session = this.session;
    if (!session) return;
    for (const { sessionId, pc } of session.connections()) {
      try {
        const { quality, sample } = summarizeStats((await pc.getStats()).values() as Iterable<StatLike>, this.samples.get(sessionId), this.opts.now());
        if (this.session !== session) return;
        this.samples.set(sessionId, sample);
        this.update(sessionId, { quality });
        report(sessionId, quality);
      } catch {
        // a closing subscription has no stats
      }
    }
    for (const id of this.samples.keys()) if (!this.tiles.has(id)) this.samples.delete(id);
    const pc = session.publisherConnection();
    if (!pc) return;
    try {
      const { quality, sample } = summarizeUplink((await pc.getStats()).values() as Iterable<StatLike>, this.uplinkState?.sample, this.opts.now());
      if (this.session !== session) return;
      this.uplinkState = { quality, connection: pc.connectionState, sample };
      this.opts.events.changed();
    } catch {
      // closing
    }
  }

  /** The call is over. */
  close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    void this.session?.close().catch(() => {});
    this.session = undefined;
    if (this.stageVideoTimer) clearTimeout(this.stageVideoTimer);
    this.stageVideoTimer = undefined;
    this.stageVideo = undefined;
    this.stageVideoKey = '';
    this.uplinkState = undefined;
    this.samples.clear();
    this.tiles.clear();
  }

  /** The room or its node went away: ask the gateway for access again (it may have moved). */
  private askAgain() {
    if (this.retry || !this.opts.live()) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      const old = this.session;
      this.session = undefined;
      void old?.close().catch(() => {});
      this.opts.events.refresh();
    }, refreshDelayMs);
  }

  private update(sessionId: string, patch: Partial<RemoteMedia>) {
    const cur = this.tiles.get(sessionId) ?? { connection: 'new', screenSharing: false };
    this.tiles.set(sessionId, { ...cur, ...patch });
    this.opts.events.changed();
  }
}
