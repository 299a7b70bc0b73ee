/**
 * One DrillPeer in a process of its own, started inside the drill's network namespace
 * (`ip netns exec`), driven over IPC: what its traffic meets is what iptables in that namespace
 * and the relays on the host end do to it.
 */
import { DrillPeer, type PeerOptions } from './peer';

export type ChildCommand =
  | { type: 'join'; options: Omit<PeerOptions, 'rewriteTurnUrl'>; turnVia: string }
  | { type: 'offer'; to: string }
  | { type: 'snapshot' }
  | { type: 'close' };

export type ChildReply =
  | { type: 'joined'; sessionId: string }
  | { type: 'snapshot'; snapshot: ReturnType<DrillPeer['snapshot']> }
  | { type: 'error'; message: string };

let peer: DrillPeer | undefined;
const send = (m: ChildReply) => process.send?.(m);

process.on('message', async (m: ChildCommand) => {
  try {
    if (m.type === 'join') {
      // coturn's host:port in the ICE servers becomes the relay in front of it, on the host end of the veth pair.
      peer = await DrillPeer.join({ ...m.options, rewriteTurnUrl: (url) => url.replace(/^(turns?:)[^:?]+:\d+/, `$1${m.turnVia}`) });
      send({ type: 'joined', sessionId: peer.sessionId });
    } else if (m.type === 'offer') {
      await peer?.offer(m.to);
    } else if (m.type === 'snapshot') {
      await peer?.relayProtocol().catch(() => '');
      if (peer) send({ type: 'snapshot', snapshot: peer.snapshot() });
    } else if (m.type === 'close') {
      peer?.close();
      process.exit(0);
    }
  } catch (err) {
    send({ type: 'error', message: (err as Error).message });
  }
});
process.on('disconnect', () => process.exit(0));
