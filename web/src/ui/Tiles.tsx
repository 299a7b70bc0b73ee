/** The call's tiles: a remote participant's, and one's own. */
import { useEffect, useRef } from 'react';
import type { CallSnapshot, RemotePeer } from '../call/call';
import { cleanDisplayName, participantLabel, roleLabel } from '../call/names';
import { Icon, type IconName } from './icons';
import { Avatar, StreamVideo } from './Media';
import { QualityPill } from './QualityPill';

/** A state badge on a tile's label: an icon, and the words for screen readers. */
function Badge({ testId, title, icon, text }: { testId: string; title: string; icon: IconName; text: string }) {
  return (
    <span className="badge" data-testid={testId} title={title}>
      <Icon name={icon} size={14} />
      <span className="visually-hidden">{text}</span>
    </span>
  );
}

/**
 * Own tile. `small` and `large` float over the stage's corner (the mesh's layout); `cell` is a
 * cell of the SFU stage's grid, with our uplink's quality.
 */
export function SelfTile({ snap, placement }: { snap: CallSnapshot; placement: 'small' | 'large' | 'cell' }) {
  const { self, local } = snap;
  return (
    <section
      className={`tile self ${placement}${snap.activeSpeaker === 'self' ? ' speaking' : ''}`}
      data-testid="tile-self"
      aria-label={`You (${self.displayName})`}
    >
      {self.screenSharing && local.screenTrack ? (
        <StreamVideo track={local.screenTrack} muted contain testId="self-video" label="Your shared screen" />
      ) : !self.cameraOff && local.videoTrack ? (
        <StreamVideo stream={local.stream} muted mirrored testId="self-video" label="Your camera" />
      ) : (
        <Avatar name={self.displayName} />
      )}
      <div className="tile-label">
        <span className="name">You</span>
        {self.audioMuted ? <Badge testId="self-badge-muted" title="Your microphone is off" icon="micOff" text="muted" /> : null}
        {self.screenSharing ? <span className="badge screen">Sharing</span> : null}
      </div>
      {snap.uplink ? <QualityPill quality={snap.uplink.quality} connection={snap.uplink.connection} testId="self-quality" /> : null}
    </section>
  );
}

export function RemoteTile({
  peer,
  speaking,
  sinkId,
  large = false,
  onWidth,
}: {
  peer: RemotePeer;
  speaking: boolean;
  sinkId: string | undefined;
  /** The SFU stage's large tile (the active speaker). */
  large?: boolean;
  /** The tile's rendered width, now and whenever it changes (the SFU stage picks a video layer by it). */
  onWidth?: (sessionId: string, widthPx: number) => void;
}) {
  const p = peer.participant;
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || !onWidth || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(([entry]) => entry && onWidth(p.sessionId, Math.round(entry.contentRect.width)));
    observer.observe(el);
    return () => observer.disconnect();
  }, [onWidth, p.sessionId]);
  const showVideo = peer.stream && (peer.screenSharing || !p.cameraOff);
  const connecting = peer.connection === 'new' || peer.connection === 'connecting';
  return (
    <section
      ref={ref}
      className={`tile remote${large ? ' large-remote' : ''}${speaking ? ' speaking' : ''}${peer.screenSharing ? ' sharing' : ''}`}
      data-testid="tile-remote"
      data-large={large}
      data-session-id={p.sessionId}
      data-name={cleanDisplayName(p.displayName, p.userType)}
      data-role={p.userType}
      data-muted={p.audioMuted}
      data-camera-off={p.cameraOff}
      data-screen={peer.screenSharing}
      data-speaking={speaking}
      aria-label={`${participantLabel(p)}${p.audioMuted ? ', muted' : ''}${p.cameraOff ? ', camera off' : ''}${peer.screenSharing ? ', sharing screen' : ''}`}
    >
      {/* The element stays while the camera is off: it plays the audio. */}
      <StreamVideo
        stream={peer.stream}
        muted={false}
        contain={peer.screenSharing}
        testId="remote-video"
        label={`${participantLabel(p)}: video`}
        sinkId={sinkId}
      />
      {!showVideo ? (
        <div className="tile-cover">
          <Avatar name={p.displayName} />
          <span>{connecting ? 'Connecting…' : p.cameraOff ? 'Camera off' : ''}</span>
        </div>
      ) : null}
      <div className="tile-label">
        {/* bdi: whatever the name holds cannot reorder the role beside it. */}
        <bdi className="name">{cleanDisplayName(p.displayName, p.userType)}</bdi>
        <span className="role" data-testid="tile-role">
          {roleLabel(p.userType)}
        </span>
        {p.audioMuted ? <Badge testId="badge-muted" title="Microphone off" icon="micOff" text="muted" /> : null}
        {p.cameraOff ? <Badge testId="badge-camera-off" title="Camera off" icon="camOff" text="camera off" /> : null}
        {peer.screenSharing ? (
          <span className="badge screen" data-testid="badge-screen">
            Screen
          </span>
        ) : null}
      </div>
      <QualityPill quality={peer.quality} connection={peer.connection} />
    </section>
  );
}
