import type { BoardControlled, BoardState, BoardUpdated, ServerMessage } from '@lessoncall/proto';

/** Request ids of board messages start with this, so an error reply finds the board. */
export const boardRequestPrefix = 'board:';

/** What the board's editor (web/src/call/board-sync.ts, loaded with the board) takes from the socket. */
export interface BoardSink {
  /** Ask the server for what we lack (on attach, and after every welcome: a resume, a rejoin). */
  resync(): void;
  state(requestId: string, state: BoardState): void;
  update(update: BoardUpdated): void;
  acked(requestId: string): void;
  /** An update of ours was refused (locked, full, too large): the sink starts over from the stored board. */
  refused(requestId: string, code: string): void;
}

export interface BoardSnapshot {
  open: boolean;
  locked: boolean;
  /** Someone drew while the board was closed here. */
  activity: boolean;
  /** The last refusal, in user words. */
  notice: string | undefined;
}

export interface BoardWire {
  update(requestId: string, update: Uint8Array): void;
  sync(requestId: string, stateVector: Uint8Array): void;
  control(requestId: string, control: { locked?: boolean; clear: boolean }): void;
}

const notices: Record<string, string> = {
  board_locked: 'The tutor has locked the board; your last stroke was not kept.',
  board_full: 'The board is full; the tutor can clear it.',
  message_too_large: 'That drawing is too large to share; it was not kept.',
};

/**
 * The board's part of the call that lives in the main bundle: the lock state (shown on the
 * toggle even before the board is opened), whether it is open, and the routing of board
 * messages to the editor once its lazily loaded chunk has attached. Without an attached editor
 * nothing about the board's content is kept: opening it syncs from the server.
 */
export class BoardHub {
  readonly wire: BoardWire;
  #sink: BoardSink | undefined;
  #snapshot: BoardSnapshot = { open: false, locked: false, activity: false, notice: undefined };
  readonly #listeners = new Set<() => void>();

  constructor(wire: BoardWire) {
    this.wire = wire;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  };

  getSnapshot = (): BoardSnapshot => this.#snapshot;

  setOpen(open: boolean): void {
    this.#set({ open, ...(open ? { activity: false } : {}) });
  }

  /** The editor is ready: it gets the board's messages from now on, starting with a sync. */
  attach(sink: BoardSink): () => void {
    this.#sink = sink;
    sink.resync();
    return () => {
      if (this.#sink === sink) this.#sink = undefined;
    };
  }

  /** After every welcome: the server forgets a socket's board subscription with the socket. */
  welcome(): void {
    this.#sink?.resync();
  }

  clearNotice(): void {
    this.#set({ notice: undefined });
  }

  /** A server message; true when it was the board's. */
  message(m: ServerMessage): boolean {
    const k = m.kind;
    switch (k.case) {
      case 'boardUpdate':
        if (this.#sink) this.#sink.update(k.value);
        else if (!this.#snapshot.open) this.#set({ activity: true });
        return true;
      case 'boardState':
        this.#set({ locked: k.value.locked });
        this.#sink?.state(m.requestId, k.value);
        return true;
      case 'boardAck':
        this.#sink?.acked(m.requestId);
        return true;
      case 'boardControl':
        this.#control(k.value);
        return true;
      case 'error':
        if (!m.requestId.startsWith(boardRequestPrefix)) return false;
        // Passing failures (unavailable, rate limited) heal by themselves: the sink syncs again.
        if (notices[k.value.code]) this.#set({ notice: notices[k.value.code] });
        this.#sink?.refused(m.requestId, k.value.code);
        return true;
      default:
        return false;
    }
  }

  #control(c: BoardControlled): void {
    this.#set({ locked: c.locked });
  }

  #set(patch: Partial<BoardSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...patch };
    for (const l of this.#listeners) l();
  }
}
