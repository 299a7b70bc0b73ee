/**
 * Who is speaking, from audio levels polled a few times a second: the loudest voice above a
 * threshold, held for a moment after it goes quiet so the highlight does not flicker between
 * words; on an sfu stage also who has the large tile (layout.ts's nextSpotlight).
 */
import { nextSpotlight, type Spotlight } from './layout';

/** Below this nobody is speaking (RTP audio level, 0–1). */
export const speakingThreshold = 0.04;
/** How long the last speaker stays active after going quiet. */
export const speakerHoldMs = 1_200;

export interface SpeakerLevels {
  /** Our microphone's meter level (0–1; 0 when muted). */
  own: number;
  /** Each remote session's level, read only when that session is not muted. */
  remote: Iterable<readonly [string, () => number]>;
  muted: (sessionId: string) => boolean;
  /** sfu: the sessions that may take the large tile, in join order; undefined without a stage. */
  stage: readonly string[] | undefined;
  now: number;
}

export class SpeakerDetector {
  private speaker: string | undefined;
  private heldUntil = 0;
  private spot: Spotlight | undefined;

  /** 'self' or a session id. */
  get active(): string | undefined {
    return this.speaker;
  }

  /** sfu: the session in the large tile. */
  get spotlight(): string | undefined {
    return this.spot?.id;
  }

  /** One poll; true when the active speaker or the spotlight changed. */
  poll(levels: SpeakerLevels): boolean {
    let best: string | undefined;
    let bestLevel = speakingThreshold;
    const own = levels.own / 5; // the meter's curve is steeper than RTP audio levels
    if (own > bestLevel) {
      best = 'self';
      bestLevel = own;
    }
    for (const [id, level] of levels.remote) {
      const value = levels.muted(id) ? 0 : level();
      if (value > bestLevel) {
        best = id;
        bestLevel = value;
      }
    }
    const now = levels.now;
    if (best) this.heldUntil = now + speakerHoldMs;
    const next = best ?? (now < this.heldUntil ? this.speaker : undefined);
    let changed = next !== this.speaker;
    this.speaker = next;
    if (levels.stage) {
      const spot = nextSpotlight(this.spot, levels.stage, next === 'self' ? undefined : next, now);
      changed ||= spot?.id !== this.spot?.id;
      this.spot = spot;
    }
    return changed;
  }

  /** That session left: it is no longer the one speaking. */
  forget(sessionId: string): void {
    if (this.speaker === sessionId) this.speaker = undefined;
  }

  /** The call is over. */
  reset(): void {
    this.speaker = undefined;
    this.spot = undefined;
  }
}
