import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  browserOf,
  FirstMediaWatch,
  hasRelayCandidate,
  hasRemoteMedia,
  iceFailureReason,
  isRelayed,
  type JoinReport,
  JoinReporter,
  noMediaTimeoutMs,
  reasonForJoinError,
} from './join-report';
import type { StatLike } from './stats';

function reporter() {
  let t = 1_000;
  const sent: JoinReport[] = [];
  const r = new JoinReporter(
    (x) => sent.push(x),
    () => t,
    'firefox',
  );
  return { r, sent, advance: (ms: number) => (t += ms) };
}

describe('JoinReporter', () => {
  it('times from Join when the other participant is already there', () => {
    const { r, sent, advance } = reporter();
    r.joinClicked();
    advance(300);
    r.peerPresent(true); // in the welcome's roster
    advance(900);
    r.media(true);
    expect(sent).toEqual([{ outcome: 'media', toFirstMediaMs: 1_200, relayed: true, browser: 'firefox' }]);
  });

  it('times from their arrival when they came later, so waiting in an empty room is not slow', () => {
    const { r, sent, advance } = reporter();
    r.joinClicked();
    advance(5 * 60_000);
    r.peerPresent();
    advance(700);
    r.media(false);
    expect(sent[0]).toMatchObject({ outcome: 'media', toFirstMediaMs: 700, relayed: false });
  });

  it('reports once per Join: later media, failures and reconnects say nothing', () => {
    const { r, sent } = reporter();
    r.joinClicked();
    r.peerPresent();
    r.media(false);
    r.media(true);
    r.failed('ice_failed');
    r.peerPresent();
    expect(sent).toHaveLength(1);
    r.joinClicked(); // left and joined again: a new report
    r.failed('service_unavailable', 'unavailable');
    expect(sent[1]).toEqual({ outcome: 'failed', reason: 'service_unavailable', code: 'unavailable', browser: 'firefox' });
  });

  it('says nothing when the user leaves first, or before Join', () => {
    const { r, sent } = reporter();
    r.media(true);
    r.failed('other');
    r.joinClicked();
    r.peerPresent();
    r.abandon();
    r.media(true);
    expect(sent).toEqual([]);
  });

  it('keeps a code only when it is a plain error code', () => {
    const { r, sent } = reporter();
    r.joinClicked();
    r.failed('other', 'Not A Code!');
    expect(sent[0]).not.toHaveProperty('code');
  });
});

describe('classification', () => {
  it('tells the service failing from the user being refused', () => {
    expect(reasonForJoinError('unavailable', 'svc.participant.join timed out')).toBe('service_unavailable');
    expect(reasonForJoinError('internal')).toBe('service_unavailable');
    expect(reasonForJoinError('unavailable', 'could not open the socket')).toBe('signaling_unreachable');
    expect(reasonForJoinError('unavailable', 'no welcome from the gateway in time')).toBe('signaling_unreachable');
    for (const code of ['meeting_ended', 'meeting_full', 'invalid_passcode', 'forbidden', 'meeting_not_started'])
      expect(reasonForJoinError(code)).toBe('refused');
  });

  it('blames TURN when a relay-only connection gathered no relay candidate', () => {
    expect(iceFailureReason(true, false)).toBe('relay_unreachable');
    expect(iceFailureReason(true, true)).toBe('ice_failed');
    expect(iceFailureReason(false, false)).toBe('ice_failed');
  });

  it('reads the browser from the user agent', () => {
    expect(browserOf('Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0')).toBe('firefox');
    expect(browserOf('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36')).toBe('chromium');
    expect(
      browserOf('Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Mobile/15E148 Safari/604.1'),
    ).toBe('webkit');
    expect(browserOf('curl/8.0')).toBe('other');
  });

  it('finds remote media and the relay in getStats', () => {
    const s = (x: Record<string, unknown>) => ({ id: String(Math.random()), ...x }) as StatLike;
    expect(hasRemoteMedia([s({ type: 'inbound-rtp', kind: 'video', framesDecoded: 0 })])).toBe(false);
    expect(hasRemoteMedia([s({ type: 'inbound-rtp', kind: 'video', framesDecoded: 1 })])).toBe(true);
    // Their camera is off: their audio is the media.
    expect(hasRemoteMedia([s({ type: 'inbound-rtp', kind: 'audio', packetsReceived: 3 })])).toBe(true);
    expect(hasRemoteMedia([s({ type: 'outbound-rtp', kind: 'video', framesEncoded: 9 })])).toBe(false);
    expect(hasRelayCandidate([s({ type: 'local-candidate', candidateType: 'host' })])).toBe(false);
    expect(hasRelayCandidate([s({ type: 'local-candidate', candidateType: 'relay' })])).toBe(true);
    const relayedPair = [
      { id: 'p', type: 'candidate-pair', state: 'succeeded', nominated: true, selected: true, localCandidateId: 'l' },
      { id: 'l', type: 'local-candidate', candidateType: 'relay' },
      { id: 't', type: 'transport', selectedCandidatePairId: 'p' },
    ] as StatLike[];
    expect(isRelayed(relayedPair)).toBe(true);
  });
});

describe('FirstMediaWatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** A connection whose stats the test sets; counts how often it was asked. */
  function connection(state: RTCPeerConnectionState = 'connected') {
    const c = { stats: [] as StatLike[], asked: 0, connectionState: state };
    const pc = {
      get connectionState() {
        return c.connectionState;
      },
      getStats: async () => {
        c.asked++;
        return new Map(c.stats.map((s, i) => [String(i), s]));
      },
    } as unknown as RTCPeerConnection;
    return { c, pc };
  }

  function waitingReporter() {
    const x = reporter();
    x.r.joinClicked();
    x.r.peerPresent(true);
    return x;
  }

  it('reports the first decoded frame, within a poll of it, and then stops asking', async () => {
    const { r, sent, advance } = waitingReporter();
    const { c, pc } = connection();
    new FirstMediaWatch(r, false).watch(pc, () => true);
    await vi.advanceTimersByTimeAsync(300);
    expect(sent).toEqual([]);
    advance(1_250);
    c.stats = [{ id: 'in', type: 'inbound-rtp', kind: 'video', framesDecoded: 1 }];
    await vi.advanceTimersByTimeAsync(100);
    expect(sent).toEqual([{ outcome: 'media', toFirstMediaMs: 1_250, relayed: false, browser: 'firefox' }]);
    const asked = c.asked;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.asked).toBe(asked);
  });

  it.each([
    { state: 'connected', relayOnly: false, reason: 'no_remote_media' },
    { state: 'connecting', relayOnly: true, reason: 'relay_unreachable' },
    { state: 'failed', relayOnly: false, reason: 'ice_failed' },
  ] as const)('nothing after the timeout, $state, relay only $relayOnly: $reason', async ({ state, relayOnly, reason }) => {
    const { r, sent, advance } = waitingReporter();
    new FirstMediaWatch(r, relayOnly).watch(connection(state).pc, () => true);
    advance(noMediaTimeoutMs + 1);
    await vi.advanceTimersByTimeAsync(100);
    expect(sent).toMatchObject([{ outcome: 'failed', reason }]);
  });

  it('stops when the connection is replaced, and watches one connection at a time', async () => {
    const { r, sent } = waitingReporter();
    const first = connection();
    const second = connection();
    let current = true;
    const watch = new FirstMediaWatch(r, false);
    watch.watch(first.pc, () => current);
    watch.watch(second.pc, () => true);
    await vi.advanceTimersByTimeAsync(100);
    expect([first.c.asked, second.c.asked]).toEqual([1, 0]);
    current = false;
    first.c.stats = [{ id: 'in', type: 'inbound-rtp', kind: 'audio', packetsReceived: 5 }];
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toEqual([]);
    // Stopped: the next connection may be watched.
    watch.watch(second.pc, () => true);
    await vi.advanceTimersByTimeAsync(100);
    expect(second.c.asked).toBe(1);
  });
});
