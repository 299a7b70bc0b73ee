/**
 * The browser's account of one join, for the join service levels: how long from Join (or from
 * the other participant's arrival, when they came later) to the first remote media, or why it
 * never came. Sent once per Join click (`POST …/client-report`); reconnects and ICE restarts
 * within the call are not new joins.
 */
import { localCandidateType, type StatLike } from './stats';

export type Browser = 'chromium' | 'firefox' | 'webkit' | 'other';

/** The gateway's enum (services/gateway/src/rest/client-report.ts). */
export type JoinFailureReason =
  | 'refused'
  | 'media_denied'
  | 'service_unavailable'
  | 'signaling_unreachable'
  | 'ice_failed'
  | 'relay_unreachable'
  | 'no_remote_media'
  | 'other';

export type JoinReport =
  | { outcome: 'media'; toFirstMediaMs: number; relayed: boolean; browser: Browser }
  | { outcome: 'failed'; reason: JoinFailureReason; code?: string; browser: Browser };

/** How long a connected call may go without any remote media before the join counts as failed. */
export const noMediaTimeoutMs = 30_000;

export function browserOf(userAgent: string): Browser {
  if (/Firefox\//.test(userAgent)) return 'firefox';
  if (/Chrom(e|ium)\/|Edg\//.test(userAgent)) return 'chromium';
  if (/AppleWebKit\//.test(userAgent) && /Safari\//.test(userAgent)) return 'webkit';
  return 'other';
}

/** Codes the lesson server answers that are the service's fault; anything else refused the user (passcode, ended, full…). */
const serviceCodes = new Set(['unavailable', 'internal', 'timeout', 'rate_limited']);
const socketCodes = new Set(['connection_failed', 'socket_closed', 'websocket_failed']);

/** Why the join itself was answered with an error (the WebSocket client says `unavailable` for a socket that would not open). */
export function reasonForJoinError(code: string, message = ''): JoinFailureReason {
  if (socketCodes.has(code) || (code === 'unavailable' && /socket|welcome/.test(message))) return 'signaling_unreachable';
  if (serviceCodes.has(code)) return 'service_unavailable';
  return 'refused';
}

/** Remote media arrived: a decoded video frame, or audio packets (their camera may be off). */
export function hasRemoteMedia(stats: Iterable<StatLike>): boolean {
  for (const s of stats) {
    if (s.type !== 'inbound-rtp') continue;
    if (s.kind === 'video' && Number(s.framesDecoded ?? 0) > 0) return true;
    if (s.kind === 'audio' && Number(s.packetsReceived ?? 0) > 0) return true;
  }
  return false;
}

export const hasRelayCandidate = (stats: Iterable<StatLike>) => [...stats].some((s) => s.type === 'local-candidate' && s.candidateType === 'relay');

export const isRelayed = (stats: Iterable<StatLike>) => localCandidateType(stats) === 'relay';

/** A connection that failed before any media: through the relay only and no relay candidate means TURN was out of reach. */
export function iceFailureReason(relayOnly: boolean, gatheredRelay: boolean): JoinFailureReason {
  return relayOnly && !gatheredRelay ? 'relay_unreachable' : 'ice_failed';
}

export class JoinReporter {
  private startedAt: number | undefined;
  private peerAt: number | undefined;
  private done = true;

  constructor(
    private readonly send: (report: JoinReport) => void,
    private readonly now: () => number,
    private readonly browser: Browser,
  ) {}

  /** The user clicked Join: a new report is due. */
  joinClicked(): void {
    this.startedAt = this.now();
    this.peerAt = undefined;
    this.done = false;
  }

  /**
   * The other participant is in the call: `alreadyThere` (in the welcome's roster) starts the
   * clock at Join; arriving later (peerJoined) starts it now.
   */
  peerPresent(alreadyThere = false): void {
    if (!this.done && this.peerAt === undefined) this.peerAt = alreadyThere ? this.startedAt : this.now();
  }

  /** Waiting for media (the other participant is here and nothing was reported yet). */
  get waiting(): boolean {
    return !this.done && this.peerAt !== undefined;
  }

  /** Milliseconds waited for media so far; undefined when not waiting. */
  waitedMs(): number | undefined {
    return this.waiting ? this.now() - Math.max(this.startedAt ?? 0, this.peerAt ?? 0) : undefined;
  }

  media(relayed: boolean): void {
    const waited = this.waitedMs();
    if (waited === undefined) return;
    this.done = true;
    this.send({ outcome: 'media', toFirstMediaMs: Math.max(0, Math.round(waited)), relayed, browser: this.browser });
  }

  failed(reason: JoinFailureReason, code?: string): void {
    if (this.done || this.startedAt === undefined) return;
    this.done = true;
    this.send({ outcome: 'failed', reason, ...(code && /^[a-z_]{1,40}$/.test(code) ? { code } : {}), browser: this.browser });
  }

  /** Left before anything was known: nothing to report (leaving is not a failure). */
  abandon(): void {
    this.done = true;
  }
}

/**
 * Until the first remote media (or the timeout), a cheap getStats every 100 ms on the first
 * connection made: the join report's time is to the frame, not to the next 2 s stats poll.
 */
export class FirstMediaWatch {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly reporter: JoinReporter,
    /** The call uses the TURN relay only (a failure then says whether TURN was reachable). */
    private readonly relayOnly: boolean,
    private readonly intervalMs = 100,
  ) {}

  /** Watches this connection, while `current` says it is still the one to that peer; one at a time. */
  watch(pc: RTCPeerConnection, current: () => boolean): void {
    if (!this.reporter.waiting || this.timer) return;
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      if (!this.reporter.waiting || !current()) return this.stop();
      busy = true;
      void pc
        .getStats()
        .then((report) => {
          const stats = [...(report.values() as IterableIterator<StatLike>)];
          if (hasRemoteMedia(stats)) this.reporter.media(isRelayed(stats));
          else if ((this.reporter.waitedMs() ?? 0) > noMediaTimeoutMs) {
            const connected = pc.connectionState === 'connected';
            this.reporter.failed(connected ? 'no_remote_media' : iceFailureReason(this.relayOnly, hasRelayCandidate(stats)));
          }
        })
        .catch(() => {})
        .finally(() => {
          busy = false;
          if (!this.reporter.waiting) this.stop();
        });
    }, this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
