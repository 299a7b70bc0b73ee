import type { PeerQuality } from './stats';

/** One sample for the lesson record (ws.proto SendQualityReport), in the shape protobuf-es takes. */
export interface QualitySampleOut {
  peerSessionId: string;
  rttMs?: number;
  lossRatio?: number;
  relayed: boolean;
  intervalMs: number;
}

interface Window {
  since: number;
  rtts: number[];
  losses: number[];
  relayed: number;
  polls: number;
}

/** The service's lower bound on a sample's interval. */
const minIntervalMs = 1_000;

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Folds the call's stats polls (every 2 s, per peer) into one sample per peer and period for the
 * lesson record: the median RTT of the polls, their mean loss, and relayed when most polls were
 * on a TURN relay. The service takes the median and time-weighted means over the lesson.
 */
export class QualityReporter {
  readonly #periodMs: number;
  readonly #peers = new Map<string, Window>();

  constructor(periodMs = 10_000) {
    this.#periodMs = periodMs;
  }

  /** One poll of one peer; returns a sample when the period is over. */
  add(peerSessionId: string, q: Pick<PeerQuality, 'rttMs' | 'lossPercent' | 'route'>, nowMs: number): QualitySampleOut | undefined {
    let w = this.#peers.get(peerSessionId);
    if (!w) {
      w = { since: nowMs, rtts: [], losses: [], relayed: 0, polls: 0 };
      this.#peers.set(peerSessionId, w);
      return undefined;
    }
    w.polls += 1;
    if (q.rttMs !== undefined) w.rtts.push(q.rttMs);
    if (q.lossPercent !== undefined) w.losses.push(q.lossPercent);
    if (q.route === 'relay') w.relayed += 1;
    return nowMs - w.since >= this.#periodMs ? this.#take(peerSessionId, w, nowMs) : undefined;
  }

  /** At the end of the call: what the unfinished periods have. */
  flush(nowMs: number): QualitySampleOut[] {
    const out: QualitySampleOut[] = [];
    for (const [id, w] of this.#peers) {
      if (w.polls > 0 && nowMs - w.since >= minIntervalMs) out.push(this.#take(id, w, nowMs));
    }
    this.#peers.clear();
    return out;
  }

  forget(peerSessionId: string): void {
    this.#peers.delete(peerSessionId);
  }

  #take(peerSessionId: string, w: Window, nowMs: number): QualitySampleOut {
    const rtt = median(w.rtts);
    const loss = w.losses.length ? w.losses.reduce((a, b) => a + b, 0) / w.losses.length / 100 : undefined;
    const sample: QualitySampleOut = {
      peerSessionId,
      relayed: w.relayed * 2 > w.polls,
      intervalMs: Math.min(600_000, Math.round(nowMs - w.since)),
      ...(rtt === undefined ? {} : { rttMs: Math.min(60_000, rtt) }),
      ...(loss === undefined ? {} : { lossRatio: Math.min(1, Math.max(0, loss)) }),
    };
    this.#peers.set(peerSessionId, { since: nowMs, rtts: [], losses: [], relayed: 0, polls: 0 });
    return sample;
  }
}
