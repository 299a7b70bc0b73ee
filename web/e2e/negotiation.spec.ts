/** Perfect negotiation in one page: two of the app's PeerLinks (peer-harness.ts), signalled through a fake server. */
import { type Open, test } from './fixtures';
import { peerLinkBundle } from './peer-harness';
import type { StackEnv } from './stack';

async function glare({ env, open }: { env: StackEnv; open: Open }, bCameraOff: boolean) {
  // The bundle is evaluated into the page: the app's CSP would (rightly) refuse it.
  const { page } = await open('glare', `${env.WEB_URL}/__peer-test`, { bypassCSP: true });
  await page.evaluate(await peerLinkBundle());
  const result = await page.evaluate(async (bCameraOff) => {
    type Link = {
      pc: RTCPeerConnection;
      remoteStream: MediaStream;
      initiate(): void;
      handleSignal(s: unknown): Promise<void>;
      setTrack(kind: string, t: MediaStreamTrack | undefined): Promise<void>;
      setMeta(m: { screenSharing: boolean }): void;
      restartIce(): void;
    };
    const { PeerLink } = (window as unknown as { LessoncallPeer: { PeerLink: new (o: unknown) => Link } }).LessoncallPeer;
    const media = () => navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const streams = { a: await media(), b: await media() };
    const links: Record<string, Link> = {};
    const metas: Record<string, boolean[]> = { a: [], b: [] };
    const sdpRounds: Record<string, number> = { a: 0, b: 0 };
    const make = (me: 'a' | 'b', other: 'a' | 'b') =>
      new PeerLink({
        remoteSessionId: other === 'a' ? 'session-aaaa' : 'session-bbbb',
        // as the app decides: the larger session id is polite
        polite: me === 'b',
        config: { iceServers: [] },
        local: () => ({
          audio: streams[me].getAudioTracks()[0],
          video: me === 'b' && bCameraOff ? undefined : streams[me].getVideoTracks()[0],
          stream: streams[me],
        }),
        events: {
          // Through a "server": later, and in order, like the real relay.
          signal: (s: { type: string }) => {
            if (s.type === 'offer' || s.type === 'answer') sdpRounds[me] = (sdpRounds[me] ?? 0) + 1;
            setTimeout(() => void links[other]?.handleSignal(JSON.parse(JSON.stringify(s))), 10);
          },
          remoteStream: () => {},
          connectionState: () => {},
          remoteMeta: (m: { screenSharing: boolean }) => metas[me]?.push(m.screenSharing),
        },
      });
    links.a = make('a', 'b');
    links.b = make('b', 'a');
    // Glare: both offer in the same task.
    links.a.initiate();
    links.b.initiate();
    const until = async (what: string, f: () => boolean, ms = 15_000) => {
      const end = Date.now() + ms;
      while (!f()) {
        if (Date.now() > end) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const A = links.a;
    const B = links.b;
    await until('connected', () => A.pc.connectionState === 'connected' && B.pc.connectionState === 'connected');
    const frames = async (l: Link) => {
      let n = 0;
      for (const s of (await l.pc.getStats()).values()) if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded ?? 0;
      return n;
    };
    let fa = 0;
    let fb = 0;
    const end = Date.now() + 15_000;
    while (((fa === 0 && !bCameraOff) || fb === 0) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      fa = await frames(A);
      fb = await frames(B);
    }
    const live = (l: Link) => l.pc.getTransceivers().filter((t) => t.currentDirection !== 'stopped' && t.mid !== null).length;
    const sending = (l: Link, s: MediaStream) => l.pc.getSenders().filter((x) => x.track && s.getTracks().includes(x.track)).length;
    await new Promise((r) => setTimeout(r, 300));
    const dump = (l: Link) =>
      l.pc
        .getTransceivers()
        .map(
          (t) =>
            `${t.mid}:${t.direction}/${t.currentDirection}:${t.sender.track?.kind ?? '-'}:${(t as unknown as { stopped?: boolean }).stopped ? 'stopped' : ''}`,
        );
    const state = {
      signaling: [A.pc.signalingState, B.pc.signalingState],
      live: [live(A), live(B)],
      sending: [sending(A, streams.a), sending(B, streams.b)],
      frames: [fa, fb],
      tA: dump(A),
      tB: dump(B),
      rounds: { ...sdpRounds },
    };

    // Meta over the data channel.
    A.setMeta({ screenSharing: true });
    await until('meta', () => metas.b?.includes(true) ?? false);

    // A track swap does not renegotiate.
    const roundsBefore = { ...sdpRounds };
    const other = (await media()).getVideoTracks()[0];
    await A.setTrack('video', other);
    await new Promise((r) => setTimeout(r, 500));
    const swapRenegotiated = sdpRounds.a !== roundsBefore.a || sdpRounds.b !== roundsBefore.b;

    // An ICE restart from the polite side: new credentials, still connected, frames keep coming.
    const ufrag = (l: Link) => /a=ice-ufrag:(\S+)/.exec(l.pc.localDescription?.sdp ?? '')?.[1];
    const before = ufrag(B);
    B.restartIce();
    await until('new ICE credentials', () => ufrag(B) !== before && A.pc.signalingState === 'stable' && B.pc.signalingState === 'stable');
    await until('connected after restart', () => A.pc.connectionState === 'connected' && B.pc.connectionState === 'connected');
    const fb2 = await frames(B);
    await new Promise((r) => setTimeout(r, 1000));
    const advancing = (await frames(B)) > fb2;
    A.pc.close();
    B.pc.close();
    return { ...state, swapRenegotiated, advancing, restarted: ufrag(B) !== before };
  }, bCameraOff);
  // Exactly one audio and one video transceiver each, nothing pending, each side sending what it has.
  const want = { signaling: ['stable', 'stable'], live: [2, 2], sending: [2, bCameraOff ? 1 : 2] };
  if (JSON.stringify([result.signaling, result.live, result.sending]) !== JSON.stringify([want.signaling, want.live, want.sending])) {
    throw new Error(`after glare: ${JSON.stringify(result)}`);
  }
  // B (polite) sees A's video; A sees B's unless B's camera is off.
  if (!((result.frames[0] ?? 0) > 0 || bCameraOff) || !((result.frames[1] ?? 0) > 0)) throw new Error(`no video after glare: ${JSON.stringify(result.frames)}`);
  if (result.swapRenegotiated) throw new Error('replacing the video track renegotiated');
  if (!result.restarted || !result.advancing) throw new Error(`ICE restart: ${JSON.stringify(result)}`);
}

test.describe(() => {
  // Self-contained (their own context, in-page signalling): one retry, reported, because two bare
  // peers through the relay have timed out on "connected" about once in twenty clean-clone runs.
  test.describe.configure({ retries: 1 });
  test('perfect negotiation: both sides offer at once, converge on one connection, survive an ICE restart', ({ env, open }) => glare({ env, open }, false));
  test('perfect negotiation with the polite side’s camera off: still one transceiver per kind', ({ env, open }) => glare({ env, open }, true));
});
