import { CaptureUpdateAction, Excalidraw } from '@excalidraw/excalidraw';
import '@excalidraw/excalidraw/index.css';
import type { ExcalidrawImperativeAPI } from '@excalidraw/excalidraw/types';
import { useEffect, useRef, useState } from 'react';
import type { BoardHub } from '../call/board';
import { type BoardElement, BoardSync } from '../call/board-sync';
import { useBoard } from './BoardToggle';
import { Icon } from './icons';

type SceneElements = Parameters<ExcalidrawImperativeAPI['updateScene']>[0]['elements'];

/**
 * The whiteboard in the call: Excalidraw bound to the board's Yjs document (web/src/call/board-sync.ts).
 * Loaded only when the board is first opened (React.lazy in CallRoom), so the call itself does
 * not carry the editor. Students see the board read-only while the tutor has locked it.
 */
export default function BoardPanel({ hub, isTutor }: { hub: BoardHub; isTutor: boolean }) {
  const snap = useBoard(hub);
  const [api, setApi] = useState<ExcalidrawImperativeAPI | null>(null);
  const sync = useRef<BoardSync | undefined>(undefined);
  // Drawn elements (deleted ones not counted), for people (the heading) and for the browser tests.
  const [drawn, setDrawn] = useState(0);
  const readOnly = snap.locked && !isTutor;

  useEffect(() => {
    if (!api) return;
    const s = new BoardSync({
      hub,
      onRemote: (elements, authoritative) => api.updateScene({ elements: merged(api, elements, authoritative), captureUpdate: CaptureUpdateAction.NEVER }),
    });
    sync.current = s;
    const detach = hub.attach(s);
    return () => {
      detach();
      s.destroy();
      sync.current = undefined;
    };
  }, [api, hub]);

  // Shown again after being hidden: the canvas recomputes its offsets (else the pointer draws off target).
  useEffect(() => {
    if (snap.open) api?.refresh();
  }, [api, snap.open]);

  const close = () => hub.setOpen(false);
  return (
    <section id="board-panel" className="board-panel" aria-label="Whiteboard" data-testid="board-panel" data-locked={snap.locked} data-elements={drawn}>
      <header className="board-head">
        <h2>Whiteboard</h2>
        {snap.locked ? (
          <span className="board-lock" role="status" data-testid="board-locked">
            <Icon name="lock" size={16} /> {isTutor ? 'Locked for your student' : 'The tutor has locked the board'}
          </span>
        ) : null}
        {isTutor ? (
          <>
            <button
              type="button"
              className="button small"
              aria-pressed={snap.locked}
              data-testid="board-lock"
              onClick={() => sync.current?.control({ locked: !snap.locked, clear: false })}
            >
              {snap.locked ? 'Unlock' : 'Lock for student'}
            </button>
            <button
              type="button"
              className="button small"
              data-testid="board-clear"
              onClick={() => {
                if (window.confirm('Clear the board for everyone?')) sync.current?.control({ clear: true });
              }}
            >
              Clear
            </button>
          </>
        ) : null}
        <button type="button" className="icon-button" aria-label="Close the whiteboard" data-testid="board-close" onClick={close}>
          <Icon name="close" size={18} />
        </button>
      </header>
      {snap.notice ? (
        <p className="board-notice" role="alert" data-testid="board-notice">
          {snap.notice}{' '}
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => hub.clearNotice()}>
            <Icon name="close" size={14} />
          </button>
        </p>
      ) : null}
      <div className="board-canvas" data-testid="board-canvas">
        <Excalidraw
          excalidrawAPI={setApi}
          onChange={(elements) => {
            sync.current?.local(elements as readonly BoardElement[]);
            setDrawn(elements.filter((e) => !e.isDeleted).length);
          }}
          viewModeEnabled={readOnly}
          isCollaborating
          UIOptions={{ tools: { image: false }, canvasActions: { loadScene: false, saveToActiveFile: false, export: false, toggleTheme: false } }}
        />
      </div>
    </section>
  );
}

/**
 * The stored elements, except where the editor holds a newer copy (the stroke being drawn right
 * now: replacing it mid-stroke would drop the pointer's next points). After a refusal the
 * stored board wins outright.
 */
function merged(api: ExcalidrawImperativeAPI, stored: BoardElement[], authoritative: boolean): SceneElements {
  if (authoritative) return stored as unknown as SceneElements;
  const local = new Map(api.getSceneElementsIncludingDeleted().map((e) => [e.id, e]));
  return stored.map((e) => {
    const mine = local.get(e.id);
    return mine && mine.version > e.version ? mine : e;
  }) as unknown as SceneElements;
}
