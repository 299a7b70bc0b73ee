import { useSyncExternalStore } from 'react';
import type { BoardHub, BoardSnapshot } from '../call/board';
import { PanelToggle } from './PanelToggle';

export function useBoard(hub: BoardHub): BoardSnapshot {
  return useSyncExternalStore(hub.subscribe, hub.getSnapshot);
}

/** In the main bundle (the editor is not): opens the board, shows its lock and that someone drew while it was closed. */
export function BoardToggle({ hub }: { hub: BoardHub }) {
  const snap = useBoard(hub);
  const label = `Whiteboard${snap.locked ? ' (locked)' : ''}${snap.activity ? ' (new drawing)' : ''}`;
  return (
    <PanelToggle
      open={snap.open}
      onToggle={(open) => hub.setOpen(open)}
      controls="board-panel"
      icon="board"
      title="Whiteboard"
      label={label}
      testId="control-board"
      badge={snap.activity ? <span className="count unread" data-testid="board-activity" aria-hidden="true" /> : null}
    />
  );
}
