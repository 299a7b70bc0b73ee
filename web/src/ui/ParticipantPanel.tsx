import { useEffect, useRef, useState } from 'react';
import type { CallController, CallSnapshot, RemotePeer } from '../call/call';
import { QualityPill } from './QualityPill';
import { Icon } from './icons';
import { cleanDisplayName, participantLabel, roleLabel } from '../call/names';

export function ParticipantPanel({ controller, snap, onClose }: { controller: CallController; snap: CallSnapshot; onClose: () => void }) {
  const { self, peers } = snap;
  const isTutor = self.userType === 'tutor';
  const removed = isTutor ? snap.tutor.removed : [];
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => closeRef.current?.focus(), []);
  return (
    <aside
      id="participant-panel"
      className="panel"
      aria-label="Participants"
      data-testid="participants-panel"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <header className="panel-head">
        <h2>Participants ({peers.length + 1})</h2>
        <button ref={closeRef} type="button" className="icon-button" aria-label="Close the participant list" onClick={onClose}>
          <Icon name="close" size={18} />
        </button>
      </header>
      <ul className="people">
        <li data-testid="participant-row" data-self="true">
          <div className="who">
            <bdi className="name">{cleanDisplayName(self.displayName, self.userType)}</bdi> (you)
            {self.userType ? <span className="role">{roleLabel(self.userType)}</span> : null}
          </div>
          <MediaState muted={self.audioMuted} cameraOff={self.cameraOff} />
        </li>
        {peers.map((p) => {
          const q = p.participant;
          return (
            <li
              key={q.sessionId}
              data-testid="participant-row"
              data-session-id={q.sessionId}
              data-name={cleanDisplayName(q.displayName, q.userType)}
              data-role={q.userType}
              data-muted={q.audioMuted}
              data-camera-off={q.cameraOff}
            >
              <div className="who">
                <bdi className="name">{cleanDisplayName(q.displayName, q.userType)}</bdi>
                <span className="role">{roleLabel(q.userType)}</span>
                <QualityPill quality={p.quality} connection={p.connection} />
              </div>
              <MediaState muted={q.audioMuted} cameraOff={q.cameraOff} />
              {isTutor && q.userType === 'student' ? <StudentControls controller={controller} peer={p} /> : null}
            </li>
          );
        })}
      </ul>
      {removed.length > 0 ? (
        <section className="removed" aria-label="Removed from the lesson" data-testid="removed-list">
          <h3>Removed</h3>
          <ul className="people">
            {removed.map((r) => (
              <li key={r.userId} data-testid="removed-row" data-user-id={r.userId}>
                <div className="who">
                  <span className="name">{cleanDisplayName(r.displayName)}</span>
                  <span className="role">cannot rejoin</span>
                </div>
                <button
                  type="button"
                  className="button small secondary"
                  data-testid="participant-allow"
                  aria-label={`Let ${cleanDisplayName(r.displayName)} join again`}
                  onClick={() => controller.allowRejoin(r.userId)}
                >
                  Allow back
                </button>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </aside>
  );
}

/**
 * The tutor's controls for one student. Removing asks first, in the row itself (no modal that a
 * phone keyboard user has to find): the confirm button takes the focus, Escape or Cancel goes back.
 */
function StudentControls({ controller, peer }: { controller: CallController; peer: RemotePeer }) {
  const q = peer.participant;
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const removeRef = useRef<HTMLButtonElement>(null);
  const wasConfirming = useRef(false);
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
    else if (wasConfirming.current) removeRef.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);

  if (confirming) {
    return (
      <fieldset
        className="confirm"
        aria-labelledby={`remove-${q.sessionId}`}
        data-testid="remove-confirm"
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            // Cancels the confirmation only; the panel stays open.
            e.stopPropagation();
            setConfirming(false);
          }
        }}
      >
        <p id={`remove-${q.sessionId}`}>Remove {participantLabel(q)} from the lesson? They cannot rejoin unless you allow them back.</p>
        <span className="confirm-actions">
          <button
            ref={confirmRef}
            type="button"
            className="button small danger"
            data-testid="remove-confirm-yes"
            onClick={() => {
              setConfirming(false);
              controller.removeParticipant(q.sessionId);
            }}
          >
            Remove
          </button>
          <button type="button" className="button small secondary" data-testid="remove-confirm-no" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </span>
      </fieldset>
    );
  }
  return (
    <span className="row-actions">
      {q.audioMuted ? (
        <button
          type="button"
          className="button small secondary"
          data-testid="participant-ask-unmute"
          aria-label={`Ask ${participantLabel(q)} to unmute`}
          onClick={() => controller.askToUnmute(q.sessionId)}
        >
          Ask to unmute
        </button>
      ) : (
        <button
          type="button"
          className="button small secondary"
          data-testid="participant-mute"
          aria-label={`Mute ${participantLabel(q)}`}
          onClick={() => controller.muteParticipant(q.sessionId)}
        >
          Mute
        </button>
      )}
      {!q.cameraOff ? (
        <button
          type="button"
          className="button small secondary"
          data-testid="participant-camera-off"
          aria-label={`Turn ${participantLabel(q)}'s camera off`}
          onClick={() => controller.turnCameraOff(q.sessionId)}
        >
          Camera off
        </button>
      ) : null}
      <button
        ref={removeRef}
        type="button"
        className="button small danger"
        data-testid="participant-remove"
        aria-label={`Remove ${participantLabel(q)} from the lesson`}
        onClick={() => setConfirming(true)}
      >
        Remove
      </button>
    </span>
  );
}

function MediaState({ muted, cameraOff }: { muted: boolean; cameraOff: boolean }) {
  return (
    <span className="media-state">
      <span title={muted ? 'Microphone off' : 'Microphone on'} className={muted ? 'off' : ''}>
        <Icon name={muted ? 'micOff' : 'mic'} size={16} />
        <span className="visually-hidden">{muted ? 'muted' : 'microphone on'}</span>
      </span>
      <span title={cameraOff ? 'Camera off' : 'Camera on'} className={cameraOff ? 'off' : ''}>
        <Icon name={cameraOff ? 'camOff' : 'cam'} size={16} />
        <span className="visually-hidden">{cameraOff ? 'camera off' : 'camera on'}</span>
      </span>
    </span>
  );
}
