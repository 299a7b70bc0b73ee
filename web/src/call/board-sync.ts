import type { BoardState, BoardUpdated } from '@lessoncall/proto';
import * as Y from 'yjs';
import { type BoardHub, type BoardSink, boardRequestPrefix } from './board';

/** The Y.Map the participant service renders the record's image from (services/participant/src/board.ts). */
const elementsKey = 'elements';
/** Origin of changes that came from the server: they are not sent back. */
const remote = 'remote';
/** An empty Yjs update (no structs, no deletions): nothing to send. */
const emptyUpdateLength = 2;

const finalRefusals: ReadonlySet<string> = new Set(['board_locked', 'board_full', 'message_too_large', 'invalid_request', 'forbidden', 'not_in_meeting']);

/** The parts of an Excalidraw element the sync looks at; the rest travels as it is. */
export interface BoardElement {
  id: string;
  version: number;
  versionNonce?: number;
  index?: string | null;
  isDeleted?: boolean;
}

export interface BoardSyncOptions {
  hub: BoardHub;
  /**
   * The board changed remotely: these are its elements now (copies, the editor may keep them).
   * `authoritative` after a refusal: what the editor has and the board does not was refused and must go;
   * otherwise the editor may keep its own newer copy of an element (the stroke being drawn).
   */
  onRemote: (elements: BoardElement[], authoritative: boolean) => void;
  /** Strokes are batched this long before they go out (a freehand line is one update, not fifty). */
  flushMs?: number;
  /** Below the service's BOARD_MAX_UPDATE_BYTES (32 KiB): bigger changes go out in several updates. */
  maxUpdateBytes?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/**
 * The board's Yjs document and its traffic, without React or the editor: local element changes
 * become batched updates, updates from the server are applied, the state vector exchange runs
 * on attach and after every welcome. An update the server refuses (the board was locked, is
 * full, the change too large) cannot be taken back in Yjs, so the document starts over from
 * the stored board and the editor gets the stored elements: what the user sees is what is kept.
 */
export class BoardSync implements BoardSink {
  readonly #o: Required<BoardSyncOptions>;
  #doc!: Y.Doc;
  #elements!: Y.Map<BoardElement>;
  #outbox: Uint8Array[] = [];
  #timer: unknown;
  #seq = 0;
  #syncId = '';
  #destroyed = false;
  #authoritative = false;

  constructor(options: BoardSyncOptions) {
    this.#o = {
      flushMs: 100,
      maxUpdateBytes: 24_000,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      ...options,
    };
    this.#reset();
  }

  get doc(): Y.Doc {
    return this.#doc;
  }

  /** The stored elements, copies. */
  elements(): BoardElement[] {
    return [...this.#elements.values()].map((e) => structuredClone(e)).sort(byIndex);
  }

  #reset(): void {
    this.#doc?.destroy();
    this.#outbox = [];
    this.#o.clearTimer(this.#timer);
    this.#timer = undefined;
    const doc = new Y.Doc();
    this.#doc = doc;
    this.#elements = doc.getMap<BoardElement>(elementsKey);
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== remote && doc === this.#doc) this.#queue(update);
    });
    this.#elements.observe((_e, txn) => {
      if (txn.origin === remote && doc === this.#doc) this.#o.onRemote(this.elements(), false);
    });
  }

  /**
   * The editor's elements after a change of any kind (Excalidraw calls this on every pointer
   * move): what is newer than the stored copy is written, in chunks below the update limit.
   */
  local(elements: readonly BoardElement[]): void {
    const changed = elements.filter((e) => {
      const stored = this.#elements.get(e.id);
      return !stored || stored.version < e.version || (stored.version === e.version && stored.versionNonce !== e.versionNonce);
    });
    let chunk: BoardElement[] = [];
    let size = 0;
    const write = () => {
      const batch = chunk;
      if (batch.length === 0) return;
      this.#doc.transact(() => {
        for (const e of batch) this.#elements.set(e.id, structuredClone(e));
      });
      chunk = [];
      size = 0;
    };
    for (const e of changed) {
      const bytes = JSON.stringify(e).length;
      if (size + bytes > this.#o.maxUpdateBytes / 2) write();
      chunk.push(e);
      size += bytes;
    }
    write();
  }

  #queue(update: Uint8Array): void {
    this.#outbox.push(update);
    if (this.#timer === undefined) this.#timer = this.#o.setTimer(() => this.flush(), this.#o.flushMs);
  }

  /** Sends what is batched (merged while it stays below the limit). */
  flush(): void {
    this.#o.clearTimer(this.#timer);
    this.#timer = undefined;
    let batch: Uint8Array[] = [];
    let size = 0;
    const send = () => {
      if (batch.length === 0) return;
      const update = batch.length === 1 ? (batch[0] as Uint8Array) : Y.mergeUpdates(batch);
      this.#seq += 1;
      this.#o.hub.wire.update(`${boardRequestPrefix}u${this.#seq}`, update);
      batch = [];
      size = 0;
    };
    for (const u of this.#outbox) {
      if (size + u.length > this.#o.maxUpdateBytes) send();
      batch.push(u);
      size += u.length;
    }
    send();
    this.#outbox = [];
  }

  resync(): void {
    if (this.#destroyed) return;
    this.#seq += 1;
    this.#syncId = `${boardRequestPrefix}s${this.#seq}`;
    this.#o.hub.wire.sync(this.#syncId, Y.encodeStateVector(this.#doc));
  }

  state(requestId: string, state: BoardState): void {
    if (requestId !== this.#syncId) return;
    Y.applyUpdate(this.#doc, state.update, remote);
    // What the server lacks: strokes sent while the socket was down, or never acknowledged.
    const missing = Y.encodeStateAsUpdate(this.#doc, state.stateVector);
    if (missing.length > emptyUpdateLength) this.#queue(missing);
    this.#o.onRemote(this.elements(), this.#authoritative);
    this.#authoritative = false;
  }

  update(update: BoardUpdated): void {
    Y.applyUpdate(this.#doc, update.update, remote);
  }

  acked(_requestId: string): void {
    // Nothing to keep per update: the next state vector exchange finds whatever the server lacks.
  }

  /**
   * A refusal for good (locked, full, too large, malformed) starts over from the stored board;
   * a passing one (unavailable, rate limited) only exchanges state vectors again, which sends
   * what the server still lacks.
   */
  refused(_requestId: string, code: string): void {
    if (finalRefusals.has(code)) {
      this.#reset();
      this.#authoritative = true;
    }
    this.resync();
  }

  /** The tutor's lock and clear. */
  control(control: { locked?: boolean; clear: boolean }): void {
    this.#seq += 1;
    this.#o.hub.wire.control(`${boardRequestPrefix}c${this.#seq}`, control);
  }

  destroy(): void {
    this.flush();
    this.#destroyed = true;
    this.#doc.destroy();
  }
}

function byIndex(a: BoardElement, b: BoardElement): number {
  const ia = a.index ?? '';
  const ib = b.index ?? '';
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}
