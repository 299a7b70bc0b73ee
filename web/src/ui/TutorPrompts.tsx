import { useEffect, useRef } from 'react';
import type { CallController, CallSnapshot } from '../call/call';
import { Icon } from './icons';

/**
 * What the tutor's controls show on the student's side: the ask to unmute (a question, never a
 * forced unmute: Unmute / Not now) and, while it lasts, that the tutor turned the camera off.
 */
export function TutorPrompts({ controller, snap }: { controller: CallController; snap: CallSnapshot }) {
  const { unmuteAsked, cameraOffByTutor } = snap.tutor;
  const unmuteRef = useRef<HTMLButtonElement>(null);
  // The prompt takes the focus so a keyboard user answers it at once; Escape is "Not now".
  useEffect(() => {
    if (unmuteAsked) unmuteRef.current?.focus();
  }, [unmuteAsked]);
  return (
    // Cards over the stage, above the controls, rather than grid banners: a prompt must not move the call's layout.
    <div className="tutor-prompts">
      {unmuteAsked ? (
        <div
          className="prompt-card ask"
          role="alertdialog"
          aria-labelledby="unmute-ask-title"
          data-testid="unmute-prompt"
          onKeyDown={(e) => {
            if (e.key === 'Escape') void controller.answerUnmuteAsk(false);
          }}
        >
          <Icon name="micOff" size={18} />
          <span id="unmute-ask-title">The tutor asks you to unmute</span>
          <span className="prompt-actions">
            <button ref={unmuteRef} type="button" className="button small" data-testid="unmute-accept" onClick={() => void controller.answerUnmuteAsk(true)}>
              Unmute
            </button>
            <button type="button" className="button small secondary" data-testid="unmute-decline" onClick={() => void controller.answerUnmuteAsk(false)}>
              Not now
            </button>
          </span>
        </div>
      ) : null}
      {cameraOffByTutor && snap.self.cameraOff ? (
        <div className="prompt-card" role="status" data-testid="camera-off-by-tutor">
          <Icon name="camOff" size={18} /> The tutor turned your camera off. You can turn it on again with the camera button.
        </div>
      ) : null}
    </div>
  );
}
