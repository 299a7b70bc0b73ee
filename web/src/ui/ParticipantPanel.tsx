import { useEffect, useRef } from 'react';
import type { CallController, CallSnapshot } from '../call/call';
import { QualityPill } from './QualityPill';
import { Icon } from './icons';
import { cleanDisplayName, participantLabel, roleLabel } from '../call/names';

export function ParticipantPanel({ controller, snap, onClose }: { controller: CallController; snap: CallSnapshot; onClose: () => void }) {
  const { self, peers } = snap;
  const isTutor = self.userType === 'tutor';
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
            >
              <div className="who">
                <bdi className="name">{cleanDisplayName(q.displayName, q.userType)}</bdi>
                <span className="role">{roleLabel(q.userType)}</span>
                <QualityPill quality={p.quality} connection={p.connection} />
              </div>
              <MediaState muted={q.audioMuted} cameraOff={q.cameraOff} />
              {isTutor && q.userType === 'student' && !q.audioMuted ? (
                <button
                  type="button"
                  className="button small secondary"
                  data-testid="participant-mute"
                  aria-label={`Mute ${participantLabel(q)}`}
                  onClick={() => controller.muteParticipant(q.sessionId)}
                >
                  Mute
                </button>
              ) : null}
            </li>
          );
        })}
      </ul>
    </aside>
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
