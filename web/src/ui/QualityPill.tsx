/** A connection's quality in a few words; the call's tiles and the participant list both show it. */
import type { PeerQuality } from '../call/stats';

/** What the pill reads: a peer's quality (mesh, or a subscription on the SFU), or our own uplink to the SFU. */
type Shown = Pick<PeerQuality, 'rttMs' | 'lossPercent' | 'route' | 'localCandidate' | 'level'> & { jitterMs?: number | undefined };

export function QualityPill({
  quality,
  connection,
  testId = 'tile-quality',
}: {
  quality: Shown | undefined;
  connection: RTCPeerConnectionState;
  testId?: string;
}) {
  if (connection === 'failed' || connection === 'disconnected') {
    return (
      <span className="quality q-poor" data-testid={testId} data-route={quality?.route ?? 'unknown'}>
        {connection === 'failed' ? 'Connection failed — retrying' : 'Connection interrupted'}
      </span>
    );
  }
  if (!quality || connection !== 'connected') return null;
  const parts = [quality.rttMs !== undefined ? `${quality.rttMs} ms` : undefined, quality.route === 'unknown' ? undefined : quality.route];
  const title = `Round trip ${quality.rttMs ?? '?'} ms, loss ${quality.lossPercent ?? 0}%${quality.jitterMs !== undefined ? `, jitter ${quality.jitterMs} ms` : ''}, ${quality.route === 'relay' ? 'relayed through the TURN server' : 'direct connection'}${quality.localCandidate ? ` (${quality.localCandidate})` : ''}`;
  return (
    <span className={`quality q-${quality.level}`} data-testid={testId} data-level={quality.level} data-route={quality.route} title={title}>
      <span className="dot" aria-hidden="true" />
      <span className="visually-hidden">{`Connection ${quality.level}, ${quality.route === 'relay' ? 'relayed' : 'direct'}: `}</span>
      {parts.filter(Boolean).join(' · ')}
      {quality.lossPercent ? ` · ${quality.lossPercent}% loss` : ''}
    </span>
  );
}
