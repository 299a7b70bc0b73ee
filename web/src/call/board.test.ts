import { create } from '@bufbuild/protobuf';
import { type ServerMessage, ServerMessageSchema } from '@lessoncall/proto';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { BoardHub } from './board';
import { type BoardElement, BoardSync } from './board-sync';

type Sent = { kind: 'update' | 'sync' | 'control'; requestId: string; body: unknown };

function setup() {
  const sent: Sent[] = [];
  const hub = new BoardHub({
    update: (requestId, update) => sent.push({ kind: 'update', requestId, body: update }),
    sync: (requestId, stateVector) => sent.push({ kind: 'sync', requestId, body: stateVector }),
    control: (requestId, control) => sent.push({ kind: 'control', requestId, body: control }),
  });
  const remote: { elements: BoardElement[]; authoritative: boolean }[] = [];
  const timers: (() => void)[] = [];
  const sync = new BoardSync({
    hub,
    onRemote: (elements, authoritative) => remote.push({ elements, authoritative }),
    setTimer: (fn) => timers.push(fn),
    clearTimer: () => {},
  });
  const tick = () => {
    for (const fn of timers.splice(0)) fn();
  };
  return { sent, hub, sync, remote, tick };
}

const msg = (requestId: string, kind: ServerMessage['kind']) => create(ServerMessageSchema, { requestId, kind });
const rect = (id: string, version = 1): BoardElement & Record<string, unknown> => ({ id, version, versionNonce: version, type: 'rectangle', x: 0, y: 0 });

/** A "server" document: what the stored board is. */
function serverWith(...elements: BoardElement[]) {
  const doc = new Y.Doc();
  for (const e of elements) doc.getMap('elements').set(e.id, e);
  return doc;
}

describe('the board client', () => {
  it('syncs on attach, applies what it lacks, and sends back what the server lacks', () => {
    const { sent, hub, sync, remote, tick } = setup();
    sync.local([rect('offline')]);
    hub.attach(sync);
    const ask = sent.find((s) => s.kind === 'sync');
    expect(ask).toBeDefined();
    const server = serverWith(rect('stored'));
    const state = { update: Y.encodeStateAsUpdate(server), stateVector: Y.encodeStateVector(server), locked: true, sizeBytes: 10, maxBytes: 100 };
    hub.message(msg(ask?.requestId ?? '', { case: 'boardState', value: state as never }));
    expect(hub.getSnapshot().locked).toBe(true);
    expect(
      remote
        .at(-1)
        ?.elements.map((e) => e.id)
        .sort(),
    ).toEqual(['offline', 'stored']);
    tick();
    // What went out covers the offline element (the first local change, and the sync-back).
    const back = new Y.Doc();
    for (const s of sent.filter((x) => x.kind === 'update')) Y.applyUpdate(back, s.body as Uint8Array);
    expect([...back.getMap('elements').keys()]).toContain('offline');
  });

  it('batches a stroke into one update and writes only what is newer than the stored copy', () => {
    const { sent, sync, tick } = setup();
    sync.local([rect('a', 1)]);
    sync.local([rect('a', 2)]);
    sync.local([rect('a', 2), rect('b', 1)]);
    sync.local([rect('a', 1)]);
    tick();
    const updates = sent.filter((s) => s.kind === 'update');
    expect(updates).toHaveLength(1);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, updates[0]?.body as Uint8Array);
    expect((doc.getMap('elements').get('a') as BoardElement).version).toBe(2);
    expect(doc.getMap('elements').has('b')).toBe(true);
  });

  it('starts over from the stored board after a refusal, so the refused stroke disappears', () => {
    const { sent, hub, sync, remote, tick } = setup();
    hub.attach(sync);
    sync.local([rect('refused')]);
    tick();
    const update = sent.find((s) => s.kind === 'update');
    hub.message(msg(update?.requestId ?? '', { case: 'error', value: { code: 'board_locked', message: 'locked' } as never }));
    expect(hub.getSnapshot().notice).toMatch(/locked the board/);
    const resync = sent.filter((s) => s.kind === 'sync').at(-1);
    // A fresh document: its state vector is empty.
    expect(Y.decodeStateVector(resync?.body as Uint8Array).size).toBe(0);
    const server = serverWith(rect('kept'));
    hub.message(
      msg(resync?.requestId ?? '', {
        case: 'boardState',
        value: { update: Y.encodeStateAsUpdate(server), stateVector: Y.encodeStateVector(server), locked: true } as never,
      }),
    );
    expect(remote.at(-1)).toMatchObject({ authoritative: true });
    expect(remote.at(-1)?.elements.map((e) => e.id)).toEqual(['kept']);
  });

  it('marks activity while the board is closed and not loaded, and follows the lock', () => {
    const { hub } = setup();
    hub.message(msg('', { case: 'boardUpdate', value: { update: new Uint8Array([0, 0]) } as never }));
    expect(hub.getSnapshot().activity).toBe(true);
    hub.setOpen(true);
    expect(hub.getSnapshot()).toMatchObject({ open: true, activity: false });
    hub.message(msg('', { case: 'boardControl', value: { locked: true, cleared: false } as never }));
    expect(hub.getSnapshot().locked).toBe(true);
    // An error that is not the board's is left to the call.
    expect(hub.message(msg('7', { case: 'error', value: { code: 'rate_limited', message: '' } as never }))).toBe(false);
  });
});
