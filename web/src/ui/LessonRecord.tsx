import type { LessonRecord } from '@lessoncall/proto';
import { useEffect, useState } from 'react';
import type { CallController } from '../call/call';
import { describeError } from '../call/errors';

/** The SVG the service rendered, as an image: in an <img>, an SVG runs no script and loads nothing. */
function boardSrc(svg: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function minutes(seconds: number): string {
  return `${Math.max(1, Math.round(seconds / 60))} min`;
}

/** On the end screen: what the lesson left behind (GET …/record), the final board first. */
export function LessonRecordView({ controller }: { controller: CallController }) {
  const [record, setRecord] = useState<LessonRecord | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    controller.lessonRecord().then(
      (r) => live && setRecord(r),
      (err: unknown) => live && setProblem(describeError(err).title),
    );
    return () => {
      live = false;
    };
  }, [controller]);

  if (problem) return <p className="record-problem">The lesson record is not available: {problem}</p>;
  if (!record) return <p role="status">Preparing the lesson record…</p>;
  const board = record.boardImage;
  return (
    <section className="record" aria-label="Lesson record" data-testid="lesson-record">
      <h2>Lesson record</h2>
      {board && !board.omitted && board.data ? (
        <figure className="record-board">
          <img
            src={boardSrc(board.data)}
            alt={`The final whiteboard (${board.elements} drawn)`}
            width={board.width}
            height={board.height}
            data-testid="record-board"
          />
          <figcaption>The whiteboard at the end of the lesson</figcaption>
        </figure>
      ) : (
        <p data-testid="record-no-board">{board?.omitted ? 'The whiteboard was too large to show here.' : 'Nothing was drawn on the whiteboard.'}</p>
      )}
      <ul className="record-facts">
        {(record.attendance?.entries ?? []).map((e) => (
          <li key={e.userId}>
            {e.userType === 'tutor' ? 'Tutor' : 'Student'}: {e.sessions > 0 ? `connected ${minutes(e.connectedSeconds)}` : 'did not join'}
          </li>
        ))}
        <li data-testid="record-messages">{record.transcript.length} chat messages</li>
        {record.quality.map((q) => (
          <li key={q.userId} data-testid="record-quality">
            Connection ({record.attendance?.entries.find((e) => e.userId === q.userId)?.userType ?? 'participant'}):{' '}
            {q.medianRttMs !== undefined ? `${Math.round(q.medianRttMs)} ms round trip` : 'round trip not measured'}
            {q.lossRatio !== undefined ? `, ${(q.lossRatio * 100).toFixed(1)}% loss` : ''}, {Math.round((q.relayedShare ?? 0) * 100)}% relayed
          </li>
        ))}
      </ul>
    </section>
  );
}
