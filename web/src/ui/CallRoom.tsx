import { lazy, Suspense, useEffect, useState } from 'react';
import type { CallController, CallSnapshot } from '../call/call';
import { BoardToggle, useBoard } from './BoardToggle';
import { ChatPanel, ChatToggle, useChat } from './ChatPanel';
import { Icon } from './icons';
import { DevicePanel } from './DevicePanel';
import { ParticipantPanel } from './ParticipantPanel';
import { SfuStage } from './SfuStage';
import { RemoteTile, SelfTile } from './Tiles';
import { TutorPrompts } from './TutorPrompts';

/**
 * The editor (Excalidraw, Yjs) is its own chunk, fetched when the board is first opened. Its
 * fonts come from the app's own origin (vite.config.ts copies them), not esm.sh: the path is
 * read while the chunk evaluates, so it is set here, before the import.
 */
const BoardPanel = lazy(() => {
  (window as unknown as { EXCALIDRAW_ASSET_PATH: string }).EXCALIDRAW_ASSET_PATH = '/excalidraw/';
  return import('./BoardPanel');
});

export function CallRoom({ controller, snap }: { controller: CallController; snap: CallSnapshot }) {
  const [panelOpen, setPanelOpen] = useState(false);
  const boardOpen = useBoard(controller.board).open;
  // Once loaded, the board stays mounted while closed: its document keeps syncing, reopening is instant.
  const [boardLoaded, setBoardLoaded] = useState(false);
  useEffect(() => {
    if (boardOpen) setBoardLoaded(true);
  }, [boardOpen]);
  // One side panel at a time: opening the chat closes the participant list, and the other way round.
  const chatOpen = useChat(controller.chat).open;
  useEffect(() => {
    if (chatOpen) setPanelOpen(false);
  }, [chatOpen]);
  useEffect(() => {
    if (panelOpen) controller.chat.setOpen(false);
  }, [panelOpen, controller]);
  const [devicesOpen, setDevicesOpen] = useState(false);
  const { self, peers } = snap;
  const reconnecting = snap.call.phase === 'reconnecting';
  const alone = peers.length === 0;
  const waitingFor = self.userType === 'tutor' ? 'your student' : 'your tutor';

  return (
    <main className={`call${panelOpen || chatOpen ? ' with-panel' : ''}${boardOpen ? ' with-board' : ''}`} data-testid="call-room" data-phase={snap.call.phase}>
      {snap.meeting?.record ? (
        <div className="recording-badge" role="status" data-testid="recording-badge" title="This lesson is recorded">
          <span aria-hidden="true">●</span> Recording
        </div>
      ) : null}
      {reconnecting ? (
        <div className="banner" role="status" data-testid="reconnecting-banner">
          <Icon name="wifi" size={18} /> Reconnecting… The call continues; we are restoring the connection to the lesson server.
        </div>
      ) : null}
      {snap.network.weakLocal ? (
        <div className="banner weak" role="status" data-testid="weak-connection" data-video={snap.network.video}>
          <Icon name="wifi" size={18} /> Your connection is weak. We lowered your video so your voice stays clear.
          {snap.network.offerAudioOnly ? (
            <button type="button" className="button small" onClick={() => void controller.acceptAudioOnly()} data-testid="audio-only">
              Switch to audio only
            </button>
          ) : null}
        </div>
      ) : null}
      <TutorPrompts controller={controller} snap={snap} />
      <h1 className="visually-hidden">{snap.meeting?.title || 'Lesson'}</h1>
      {/* A group on the SFU; a 1:1 lesson on it (recorded) keeps the mesh's two-person stage. */}
      {snap.sfu && peers.length >= 2 ? (
        <SfuStage controller={controller} snap={snap} />
      ) : (
        <div className={`stage count-${peers.length > 4 ? 'many' : peers.length}`}>
          {alone ? (
            <div className="waiting" data-testid="waiting">
              <p>Waiting for {waitingFor} to join…</p>
            </div>
          ) : (
            peers.map((p) => (
              <RemoteTile key={p.participant.sessionId} peer={p} speaking={snap.activeSpeaker === p.participant.sessionId} sinkId={snap.speakerId} />
            ))
          )}
          <SelfTile snap={snap} placement={alone ? 'large' : 'small'} />
        </div>
      )}

      <div className="notices" aria-live="polite" data-testid="notices">
        {snap.notices.map((n) => (
          <div key={n.id} className="notice" data-testid="notice">
            {n.text}
          </div>
        ))}
      </div>

      <nav className="controls" aria-label="Call controls">
        <button
          type="button"
          className={`round ${self.audioMuted ? 'off' : ''}`}
          aria-pressed={self.audioMuted}
          aria-label={self.audioMuted ? 'Unmute microphone' : 'Mute microphone'}
          title={self.audioMuted ? 'Unmute' : 'Mute'}
          data-testid="control-mic"
          onClick={() => void controller.toggleMic()}
        >
          <Icon name={self.audioMuted ? 'micOff' : 'mic'} />
        </button>
        <button
          type="button"
          className={`round ${self.cameraOff ? 'off' : ''}`}
          aria-pressed={self.cameraOff}
          aria-label={self.cameraOff ? 'Turn camera on' : 'Turn camera off'}
          title={self.cameraOff ? 'Camera on' : 'Camera off'}
          data-testid="control-camera"
          onClick={() => void controller.toggleCamera()}
        >
          <Icon name={self.cameraOff ? 'camOff' : 'cam'} />
        </button>
        <button
          type="button"
          className={`round ${self.screenSharing ? 'active' : ''}`}
          aria-pressed={self.screenSharing}
          aria-label={self.screenSharing ? 'Stop sharing your screen' : 'Share your screen'}
          title={self.screenSharing ? 'Stop sharing' : 'Share screen'}
          data-testid="control-share"
          onClick={() => void controller.toggleScreenShare()}
        >
          <Icon name="screen" />
        </button>
        <button
          type="button"
          className={`round ${panelOpen ? 'active' : ''}`}
          aria-pressed={panelOpen}
          aria-expanded={panelOpen}
          aria-controls="participant-panel"
          aria-label={`Participants (${peers.length + 1})`}
          title="Participants"
          data-testid="control-participants"
          onClick={() => setPanelOpen((o) => !o)}
        >
          <Icon name="people" />
          <span className="count">{peers.length + 1}</span>
        </button>
        <ChatToggle chat={controller.chat} />
        <BoardToggle hub={controller.board} />
        <button
          type="button"
          className={`round ${devicesOpen ? 'active' : ''}`}
          aria-pressed={devicesOpen}
          aria-expanded={devicesOpen}
          aria-label="Camera, microphone and speaker"
          title="Devices"
          data-testid="control-devices"
          onClick={() => setDevicesOpen((o) => !o)}
        >
          <Icon name="tune" />
        </button>
        <button
          type="button"
          className="round leave"
          aria-label="Leave the lesson"
          title="Leave"
          data-testid="control-leave"
          onClick={() => controller.leave()}
        >
          <Icon name="leave" />
        </button>
        {self.userType === 'tutor' ? (
          <button
            type="button"
            className="button end-lesson"
            data-testid="control-end"
            onClick={() => {
              if (window.confirm('End the lesson for everyone?')) void controller.endForEveryone();
            }}
          >
            End lesson
          </button>
        ) : null}
      </nav>

      {devicesOpen ? <DevicePanel controller={controller} snap={snap} /> : null}
      {panelOpen ? <ParticipantPanel controller={controller} snap={snap} onClose={() => setPanelOpen(false)} /> : null}
      <ChatPanel chat={controller.chat} />
      {boardLoaded ? (
        <div className="board-slot" hidden={!boardOpen}>
          <Suspense
            fallback={
              <p className="board-loading" role="status">
                Loading the whiteboard…
              </p>
            }
          >
            <BoardPanel hub={controller.board} isTutor={self.userType === 'tutor'} />
          </Suspense>
        </div>
      ) : null}
    </main>
  );
}
