/**
 * Applies the adaptation policy (adaptation.ts) to one RTCPeerConnection: reads the sender's
 * side of getStats, and sets the video sender's encoding with `setParameters` — never a
 * renegotiation. The audio sender is marked high priority once, so under pressure the
 * browser's congestion control starves video before voice.
 */
import { type Adaptation, type AdaptationState, adapt, encodingFor, initialAdaptation, type OutboundSample, outboundPath, trustedEstimate } from './adaptation';

type StatLike = { id: string; type: string } & Record<string, unknown>;

export class SenderAdapter {
  private state: AdaptationState = initialAdaptation;
  private previous: OutboundSample | undefined;
  private applied = '';
  private audioPrioritised = false;
  /** When this connection's video first went out (the bandwidth estimate ramps up from there). */
  private sendingSince: number | undefined;

  constructor(
    readonly pc: RTCPeerConnection,
    private readonly now: () => number,
  ) {}

  /** One step: `inbound` is what the receive side measured (quality of the other's media to us). */
  async step(inbound: { lossPercent: number | undefined; rttMs: number | undefined }): Promise<Adaptation> {
    const path = outboundPath((await this.pc.getStats()).values() as Iterable<StatLike>, this.previous);
    this.previous = path.sample;
    const now = this.now();
    if (path.sample.packetsSent > 0) this.sendingSince ??= now;
    const result = adapt(
      this.state,
      {
        outboundLossPercent: path.outboundLossPercent,
        availableOutgoingKbps: trustedEstimate(path.availableOutgoingKbps, this.sendingSince === undefined ? undefined : now - this.sendingSince),
        sentKbps: path.sentKbps,
        rttMs: inbound.rttMs,
        inboundLossPercent: inbound.lossPercent,
      },
      now,
    );
    this.state = result.state;
    await this.apply(result);
    return result;
  }

  private sender(kind: 'audio' | 'video'): RTCRtpSender | undefined {
    return this.pc.getTransceivers().find((t) => t.receiver.track.kind === kind && t.mid !== null && t.currentDirection !== 'stopped')?.sender;
  }

  private async apply(result: Adaptation) {
    const video = this.sender('video');
    if (video?.track) {
      const encoding = encodingFor(result.video, video.track.contentHint);
      const key = `${video.track.id}:${JSON.stringify(encoding)}`;
      if (key !== this.applied) {
        const params = video.getParameters();
        const first = params.encodings?.[0];
        // Before the first negotiation there are no encodings to set.
        if (first) {
          Object.assign(first, encoding);
          await video.setParameters(params);
          this.applied = key;
        }
      }
    }
    const audio = this.sender('audio');
    if (audio && !this.audioPrioritised) {
      const params = audio.getParameters();
      const first = params.encodings?.[0] as (RTCRtpEncodingParameters & { priority?: string; networkPriority?: string }) | undefined;
      if (first) {
        first.priority = 'high';
        first.networkPriority = 'high';
        await audio.setParameters(params).catch(() => {}); // Firefox has no priority: nothing to do there
        this.audioPrioritised = true;
      }
    }
  }
}
