import type { CallController, CallSnapshot } from '../call/call';
import { LessonRecordView } from './LessonRecord';
import { MessagePanel } from './Message';

export function EndScreen({ controller, snap }: { controller: CallController; snap: CallSnapshot }) {
  const s = snap.call;
  if (s.phase === 'failed') {
    return (
      <main className="page narrow" data-testid="failed-screen" data-code={s.error.code}>
        <MessagePanel
          message={s.error}
          testId="failed-message"
          action={s.error.retryable ? { label: 'Back to the lobby', onClick: () => void controller.rejoin(), testId: 'rejoin-button' } : undefined}
        />
      </main>
    );
  }
  if (s.phase !== 'left') return null;
  if (s.reason === 'ended') {
    return (
      <main className="page narrow" data-testid="ended-screen" data-reason="ended">
        {snap.meeting?.title ? <h1>{snap.meeting.title}</h1> : null}
        <MessagePanel
          message={s.message ?? { code: 'meeting_ended', title: 'The lesson has ended', detail: '', retryable: false }}
          tone="info"
          testId="ended-message"
        />
        <LessonRecordView controller={controller} />
      </main>
    );
  }
  return (
    <main className="page narrow" data-testid="ended-screen" data-reason="left">
      <div className="message message-info" role="status">
        <strong className="message-title">You left the lesson</strong>
        <p>{snap.meeting?.title ? `“${snap.meeting.title}” is still on; you can go back in.` : 'You can go back in while the lesson is on.'}</p>
        <button type="button" className="button" onClick={() => void controller.rejoin()} data-testid="rejoin-button">
          Rejoin
        </button>
      </div>
    </main>
  );
}
