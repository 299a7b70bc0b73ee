import { useId, useState } from 'react';
import { meetingPath, parseMeetingIdInput, passcodeProblem } from '../call/routes';

/** Meeting ID + passcode by hand (or a pasted link), validated as you type. */
export function EnterPage({ onEnter }: { onEnter: (path: string) => void }) {
  const [idText, setIdText] = useState('');
  const [passcode, setPasscode] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const idField = useId();
  const pwField = useId();
  const id = parseMeetingIdInput(idText);
  const idProblem = id.problem ?? (submitted && !id.meetingId ? 'A meeting ID is “MID-” and 16 letters or digits.' : undefined);
  const effectivePasscode = id.passcode && !passcode ? id.passcode : passcode;
  const pwProblem = passcodeProblem(effectivePasscode, submitted);
  return (
    <main className="page narrow">
      <h1>Join a lesson</h1>
      <p className="muted">Open the link from your booking, or type the meeting ID and passcode.</p>
      <form
        className="card"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setSubmitted(true);
          if (id.meetingId && !passcodeProblem(effectivePasscode, true)) onEnter(meetingPath(id.meetingId, effectivePasscode.trim()));
        }}
      >
        <label className="field" htmlFor={idField}>
          <span>Meeting ID</span>
          <input
            id={idField}
            data-testid="enter-meeting-id"
            value={idText}
            onChange={(e) => setIdText(e.target.value)}
            placeholder="MID-AB12CD34EF56GH78"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={idProblem ? true : undefined}
            aria-describedby={idProblem ? `${idField}-problem` : undefined}
          />
          {idProblem ? (
            <span className="field-problem" id={`${idField}-problem`} role="alert">
              {idProblem}
            </span>
          ) : id.meetingId ? (
            <span className="field-ok">✓ {id.meetingId}</span>
          ) : null}
        </label>
        <label className="field" htmlFor={pwField}>
          <span>Passcode</span>
          <input
            id={pwField}
            data-testid="enter-passcode"
            value={effectivePasscode}
            onChange={(e) => setPasscode(e.target.value)}
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={12}
            placeholder="6 digits"
            aria-invalid={pwProblem ? true : undefined}
            aria-describedby={pwProblem ? `${pwField}-problem` : undefined}
          />
          {pwProblem ? (
            <span className="field-problem" id={`${pwField}-problem`} role="alert">
              {pwProblem}
            </span>
          ) : null}
        </label>
        <button type="submit" className="button" data-testid="enter-submit">
          Continue
        </button>
      </form>
    </main>
  );
}
