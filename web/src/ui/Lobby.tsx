import { useCallback, useId, useState } from 'react';
import type { CallController, CallSnapshot } from '../call/call';
import { joinGate } from '../call/lobby';
import { passcodeProblem } from '../call/routes';
import { formatLessonTime } from './hooks';
import { Icon } from './icons';
import { Avatar, MicMeter, StreamVideo } from './Media';
import { MessagePanel } from './Message';
import { PrecallPanel } from './PrecallCheck';
import { keepPasscode } from './router';
import { presentSentence } from '../call/names';

export function Lobby({ controller, snap }: { controller: CallController; snap: CallSnapshot }) {
  const { meeting, meetingLoad, local, self } = snap;
  const joining = snap.call.phase === 'joining';
  const joinError = snap.call.phase === 'preview' ? snap.call.joinError : undefined;
  const loadError = meetingLoad.status === 'error' ? meetingLoad : undefined;
  const { canJoin, label, askPasscode } = joinGate(snap);
  const level = useCallback(() => controller.micLevel(), [controller]);
  const nameId = useId();
  const when = formatLessonTime(meeting?.scheduledStart, meeting?.scheduledEnd);
  const counterpart = meeting ? (self.userId === meeting.tutorId ? meeting.studentName : meeting.tutorName) : undefined;
  const cameraMsg = local.videoMessage;
  const micMsg = local.audioMessage;

  return (
    <main className="page lobby" data-testid="lobby" onPointerDown={() => controller.userGesture()} onKeyDown={() => controller.userGesture()}>
      <section className="lobby-preview" aria-label="Camera and microphone check">
        <div className="preview-frame">
          {local.videoTrack && !self.cameraOff ? (
            <StreamVideo stream={local.stream} muted mirrored testId="lobby-preview" label="Your camera preview" />
          ) : (
            <div className="camera-off" data-testid="lobby-preview-off">
              <Avatar name={self.displayName} />
              <span>{cameraMsg ? cameraMsg.title : local.settling ? 'Starting the camera…' : 'Camera is off'}</span>
            </div>
          )}
          <div className="preview-controls">
            <button
              type="button"
              className={`round ${self.audioMuted ? 'off' : ''}`}
              aria-pressed={!self.audioMuted}
              aria-label={self.audioMuted ? 'Microphone off — turn on' : 'Microphone on — turn off'}
              title={self.audioMuted ? 'Join with the microphone on' : 'Join muted'}
              data-testid="lobby-toggle-mic"
              disabled={!local.audioTrack && !micMsg}
              onClick={() => void (micMsg ? controller.retryMedia() : controller.setJoinMicMuted(!self.audioMuted))}
            >
              <Icon name={self.audioMuted ? 'micOff' : 'mic'} />
            </button>
            <button
              type="button"
              className={`round ${self.cameraOff ? 'off' : ''}`}
              aria-pressed={!self.cameraOff}
              aria-label={self.cameraOff ? 'Camera off — turn on' : 'Camera on — turn off'}
              title={self.cameraOff ? 'Join with the camera on' : 'Join with the camera off'}
              data-testid="lobby-toggle-camera"
              onClick={() => void controller.setJoinCameraOff(!self.cameraOff)}
            >
              <Icon name={self.cameraOff ? 'camOff' : 'cam'} />
            </button>
          </div>
        </div>
        <div className="meter-row">
          <span className="muted small">{self.audioMuted ? 'Microphone off' : 'Say something: the bar moves when you are heard'}</span>
          <MicMeter level={level} muted={self.audioMuted} />
        </div>
        <div className="devices">
          <label className="field compact">
            <span>Camera</span>
            <select
              data-testid="lobby-camera-select"
              value={local.cameraDeviceId ?? ''}
              disabled={local.devices.cameras.length === 0}
              onChange={(e) => void controller.selectCamera(e.target.value)}
            >
              {local.devices.cameras.length === 0 ? <option value="">No camera</option> : null}
              {local.devices.cameras.map((d) => (
                <option key={d.deviceId} value={d.deviceId}>
                  {d.label}
                </option>
              ))}
            </select>
          </label>
          <label className="field compact">
            <span>Microphone</span>
            <select
              data-testid="lobby-mic-select"
              value={local.microphoneDeviceId ?? ''}
              disabled={local.devices.microphones.length === 0}
              onChange={(e) => void controller.selectMicrophone(e.target.value)}
            >
              {local.devices.microphones.length === 0 ? <option value="">No microphone</option> : null}
              {local.devices.microphones.map((d) => (
                <option key={d.deviceId} value={d.deviceId}>
                  {d.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        {cameraMsg ? (
          <MessagePanel
            message={cameraMsg}
            testId="media-error-camera"
            tone="warning"
            action={cameraMsg.retryable ? { label: 'Try again', onClick: () => void controller.retryMedia(), testId: 'media-retry' } : undefined}
          />
        ) : null}
        {micMsg && micMsg.code !== cameraMsg?.code ? (
          <MessagePanel
            message={micMsg}
            testId="media-error-microphone"
            tone="warning"
            action={micMsg.retryable ? { label: 'Try again', onClick: () => void controller.retryMedia() } : undefined}
          />
        ) : null}
        <PrecallPanel check={controller.precall} />
      </section>

      <section className="lobby-side" aria-labelledby="lesson-title">
        <h1 id="lesson-title" data-testid="lobby-title">
          {meeting?.title || 'Your lesson'}
        </h1>
        {when ? (
          <p className="lesson-time" data-testid="lobby-time">
            {when}
          </p>
        ) : null}
        {counterpart ? <p className="muted">with {counterpart}</p> : null}
        {meeting?.record ? (
          <p className="recorded-notice" role="note" data-testid="lobby-recorded">
            This lesson is recorded. By joining you agree that your video and voice are recorded for the lesson's participants.
          </p>
        ) : null}
        <p className="muted small">Meeting ID {snap.meetingId}</p>
        {snap.presentInLobby.length ? (
          <p className="present" data-testid="lobby-present">
            {presentSentence(snap.presentInLobby)}
          </p>
        ) : null}

        {loadError ? (
          <MessagePanel
            message={loadError.error}
            retryAt={loadError.retryAt}
            testId="lobby-error"
            tone={loadError.error.code === 'meeting_not_started' ? 'info' : 'error'}
          />
        ) : null}
        {joinError && joinError.code !== loadError?.error.code ? <MessagePanel message={joinError} testId="lobby-error" /> : null}

        {askPasscode ? (
          <PasscodeForm
            onSubmit={(p) => {
              // Kept for a reload of this tab, never put in the address (history, logs).
              keepPasscode(snap.meetingId, p);
              controller.setPasscode(p);
            }}
          />
        ) : null}

        <form
          className="join-form"
          onSubmit={(e) => {
            e.preventDefault();
            controller.userGesture();
            void controller.join();
          }}
        >
          <label className="field" htmlFor={nameId}>
            <span>Your name</span>
            <input
              id={nameId}
              data-testid="lobby-display-name"
              value={self.displayName}
              maxLength={80}
              onChange={(e) => controller.setDisplayName(e.target.value)}
            />
          </label>
          <button type="submit" className="button primary big" disabled={!canJoin} data-testid="lobby-join" aria-busy={joining || local.settling}>
            {label}
          </button>
          <p className="muted small">
            {local.settling ? null : `You will join with the microphone ${self.audioMuted ? 'off' : 'on'} and the camera ${self.cameraOff ? 'off' : 'on'}.`}
            {snap.forceRelay ? ' Media is relayed through the TURN server (relay=1).' : ''}
          </p>
        </form>
      </section>
    </main>
  );
}

function PasscodeForm({ onSubmit }: { onSubmit: (passcode: string) => void }) {
  const [value, setValue] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const id = useId();
  const problem = passcodeProblem(value, submitted);
  return (
    <form
      className="passcode-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setSubmitted(true);
        if (!passcodeProblem(value, true)) {
          onSubmit(value.trim());
        }
      }}
    >
      <label className="field" htmlFor={id}>
        <span>Passcode</span>
        <input
          id={id}
          data-testid="lobby-passcode-input"
          value={value}
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={12}
          placeholder="6 digits"
          onChange={(e) => setValue(e.target.value)}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${id}-problem` : undefined}
        />
        {problem ? (
          <span className="field-problem" id={`${id}-problem`} role="alert">
            {problem}
          </span>
        ) : null}
      </label>
      <button type="submit" className="button secondary" data-testid="lobby-passcode-submit">
        Check passcode
      </button>
    </form>
  );
}
