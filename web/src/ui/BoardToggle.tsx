import { useSyncExternalStore } from 'react';
import type { BoardHub, BoardSnapshot } from '../call/board';
import { Icon } from './icons';

export function useBoard(hub: BoardHub): BoardSnapshot {
  return useSyncExternalStore(hub.subscribe, hub.getSnapshot);
}

/** In the main bundle (the editor is not): opens the board, shows its lock and that someone drew while it was closed. */
export function BoardToggle({ hub }: { hub: BoardHub }) {
  const snap = useBoard(hub);
  const label = `Whiteboard${snap.locked ? ' (locked)' : ''}${snap.activity ? ' (new drawing)' : ''}`;
  return (
    <button
      type="button"
      className={`round ${snap.open ? 'active' : ''}`}
      aria-pressed={snap.open}
      aria-expanded={snap.open}
      aria-controls="board-panel"
      aria-label={label}
      title="Whiteboard"
      data-testid="control-board"
      onClick={() => hub.setOpen(!snap.open)}
    >
      <Icon name="board" />
      {snap.activity ? <span className="count unread" data-testid="board-activity" aria-hidden="true" /> : null}
    </button>
  );
}
