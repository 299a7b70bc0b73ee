import wrtc from '@roamhq/wrtc';

// @roamhq/wrtc re-exports the DOM's WebRTC types, which this Node project does not load: the
// little used here, typed by hand.
interface IceServerInit {
  urls: string[];
  username?: string;
  credential?: string;
}
interface SessionDescription {
  type: string;
  sdp: string;
}
interface DataChannel {
  readyState: string;
  send(data: string): void;
  onopen: (() => void) | null;
  onmessage: ((e: { data: string }) => void) | null;
}
interface PeerConnection {
  connectionState: string;
  onicecandidate: ((e: { candidate: unknown }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  ondatachannel: ((e: { channel: DataChannel }) => void) | null;
  createDataChannel(label: string): DataChannel;
  createOffer(): Promise<SessionDescription>;
  createAnswer(): Promise<SessionDescription>;
  setLocalDescription(d: SessionDescription): Promise<void>;
  setRemoteDescription(d: SessionDescription): Promise<void>;
  addIceCandidate(c: unknown): Promise<void>;
  getStats(): Promise<Map<string, Record<string, unknown>>>;
  close(): void;
}
const RTCPeerConnection = wrtc.RTCPeerConnection as new (config: { iceServers: IceServerInit[]; iceTransportPolicy: 'relay' | 'all' }) => PeerConnection;

export interface RelayCallResult {
  /** The message each side received over the data channel. */
  received: [string, string];
  /** Candidate types of the selected pair, local and remote, on the offering side. */
  selectedPair: { local: string; remote: string };
}

/**
 * Two Node WebRTC peers forced to relay through TURN (`iceTransportPolicy: 'relay'`: no host
 * or server-reflexive candidates at all), signalled directly in-process. Resolves once both
 * are connected and a data channel message has crossed in each direction.
 */
export async function relayCall(iceServers: IceServerInit[], timeoutMs = 20_000): Promise<RelayCallResult> {
  const a = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  const b = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      // A candidate gathered after the other side was closed (a refused relay ends the call
      // early) has nowhere to go; that is not a test failure.
      const relay = (to: PeerConnection) => (e: { candidate: unknown }) => void (e.candidate && to.addIceCandidate(e.candidate).catch(() => {}));
      a.onicecandidate = relay(b);
      b.onicecandidate = relay(a);
      const connected = (pc: PeerConnection) =>
        new Promise<void>((resolve, reject) => {
          pc.onconnectionstatechange = () => {
            if (pc.connectionState === 'connected') resolve();
            if (pc.connectionState === 'failed') reject(new Error('ICE failed: no relay path'));
          };
        });
      const bothConnected = Promise.all([connected(a), connected(b)]);
      const channelA = a.createDataChannel('test');
      const channelB = new Promise<DataChannel>((resolve) => {
        b.ondatachannel = (e) => resolve(e.channel);
      });
      const offer = await a.createOffer();
      await a.setLocalDescription(offer);
      await b.setRemoteDescription(offer);
      const answer = await b.createAnswer();
      await b.setLocalDescription(answer);
      await a.setRemoteDescription(answer);
      await bothConnected;

      const inB = channelB.then(
        (ch) =>
          new Promise<string>((resolve) => {
            ch.onmessage = (e) => {
              resolve(e.data);
              ch.send('pong from b');
            };
          }),
      );
      const inA = new Promise<string>((resolve) => {
        channelA.onmessage = (e) => resolve(e.data);
      });
      await new Promise<void>((resolve) => {
        if (channelA.readyState === 'open') resolve();
        else channelA.onopen = () => resolve();
      });
      channelA.send('ping from a');
      const received: [string, string] = [await inA, await inB];
      return { received, selectedPair: await selectedPair(a) };
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`relay call did not connect in ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    a.close();
    b.close();
  }
}

async function selectedPair(pc: PeerConnection): Promise<{ local: string; remote: string }> {
  const stats = [...(await pc.getStats()).values()];
  const pair = stats.find((s) => s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated);
  const typeOf = (id: unknown) => String(stats.find((s) => s.id === id)?.candidateType ?? 'none');
  return { local: typeOf(pair?.localCandidateId), remote: typeOf(pair?.remoteCandidateId) };
}
