import { create } from '@bufbuild/protobuf';
import { type SfuAccess, SfuAccessSchema } from '@lessoncall/proto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeStream } from './fakes';
import type { SfuOptions, VideoWanted } from './sfu';
import { type RoomSession, SfuRoom } from './sfu-room';

/** A session on a room nobody runs: it records what it was asked, and the test plays the room's events. */
class FakeSession implements RoomSession {
  readonly access: SfuAccess;
  closed = false;
  readonly wanted: (ReadonlyMap<string, VideoWanted> | undefined)[] = [];
  failStart = false;

  constructor(readonly options: SfuOptions) {
    this.access = options.access;
  }

  async start(): Promise<void> {
    if (this.failStart) throw new Error('room unreachable');
  }

  async setTrack(): Promise<void> {}

  setVideoWanted(wanted: ReadonlyMap<string, VideoWanted> | undefined): void {
    this.wanted.push(wanted);
  }

  audioLevel(): number {
    return 0;
  }

  publisherConnection(): RTCPeerConnection | undefined {
    return undefined;
  }

  connections(): { sessionId: string; pc: RTCPeerConnection }[] {
    return [];
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const access = (fields: { url?: string; generation?: number; reconnect?: boolean } = {}) =>
  create(SfuAccessSchema, { url: 'ws://janus-1', generation: 1, roomId: '7', ...fields });

function setup(opts: { live?: boolean; failStart?: boolean } = {}) {
  const sessions: FakeSession[] = [];
  const events = { changed: vi.fn(), media: vi.fn(), refresh: vi.fn(), notify: vi.fn(), log: () => {} };
  const room = new SfuRoom({
    forceRelay: true,
    iceServers: () => [{ urls: 'turn:turn.example' }],
    local: () => ({ audio: undefined, video: undefined, stream: new FakeStream() as unknown as MediaStream }),
    live: () => opts.live ?? true,
    now: () => 0,
    events,
    createSession: (options) => {
      const s = new FakeSession(options);
      s.failStart = opts.failStart ?? false;
      sessions.push(s);
      return s;
    },
  });
  return { room, sessions, events };
}

describe('SfuRoom', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('joins the room with the call’s TURN servers, and a publisher’s media shows on its tile', async () => {
    const { room, sessions, events } = setup();
    await room.join(access());
    expect(sessions[0]?.options).toMatchObject({ iceServers: [{ urls: 'turn:turn.example' }], forceRelay: true });
    const stream = new FakeStream() as unknown as MediaStream;
    sessions[0]?.options.events.remoteStream('s1', stream);
    expect(room.tile('s1')).toEqual({ stream, connection: 'connected', screenSharing: false });
    expect(events.media).toHaveBeenCalledOnce();
    sessions[0]?.options.events.remoteGone('s1');
    expect(room.tile('s1')?.connection).toBe('disconnected');
  });

  it('the same access again changes nothing; a move to another node reconnects, says so, and shows the tiles connecting', async () => {
    const { room, sessions, events } = setup();
    await room.join(access());
    sessions[0]?.options.events.remoteStream('s1', new FakeStream() as unknown as MediaStream);
    await room.join(access());
    expect(sessions).toHaveLength(1);
    await room.join(access({ url: 'ws://janus-2', generation: 2, reconnect: true }));
    expect(sessions).toHaveLength(2);
    expect(sessions[0]?.closed).toBe(true);
    expect(events.notify).toHaveBeenCalledWith('Reconnecting the video…');
    expect(room.tile('s1')?.connection).toBe('connecting');
  });

  it('a lost room is asked for again once, a second later, and not after the call ended', async () => {
    const { room, sessions, events } = setup();
    await room.join(access());
    sessions[0]?.options.events.lost();
    sessions[0]?.options.events.connectionState('failed');
    await vi.advanceTimersByTimeAsync(999);
    expect(events.refresh).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(events.refresh).toHaveBeenCalledOnce();
    expect(sessions[0]?.closed).toBe(true);

    const ended = setup({ live: false });
    await ended.room.join(access());
    ended.sessions[0]?.options.events.lost();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ended.events.refresh).not.toHaveBeenCalled();
  });

  it('a room that cannot be joined is asked for again', async () => {
    const { room, events } = setup({ failStart: true });
    await room.join(access());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(events.refresh).toHaveBeenCalledOnce();
  });

  it('our publisher’s connection state is the uplink on our tile', async () => {
    const { room, sessions } = setup();
    await room.join(access());
    sessions[0]?.options.events.connectionState('connected');
    expect(room.uplink).toEqual({ quality: undefined, connection: 'connected' });
  });

  it('a page turn of the stage reaches the room as one change, and an unchanged stage not at all', async () => {
    const { room, sessions } = setup();
    await room.join(access());
    const page1 = new Map<string, VideoWanted>([['a', { send: true, substream: 2 }]]);
    const page2 = new Map<string, VideoWanted>([['b', { send: true, substream: 1 }]]);
    const before = sessions[0]?.wanted.length ?? 0;
    room.setStageVideo(page1);
    room.setStageVideo(page2);
    await vi.advanceTimersByTimeAsync(250);
    room.setStageVideo(new Map(page2));
    await vi.advanceTimersByTimeAsync(250);
    expect(sessions[0]?.wanted.slice(before)).toEqual([page2]);
    // A session made later starts with what the stage shows.
    await room.join(access({ generation: 2, reconnect: true }));
    expect(sessions[1]?.wanted).toEqual([page2]);
  });

  it('a session that left loses its tile; the end of the call closes the room and cancels a pending retry', async () => {
    const { room, sessions, events } = setup();
    await room.join(access());
    sessions[0]?.options.events.remoteStream('s1', new FakeStream() as unknown as MediaStream);
    sessions[0]?.options.events.remoteStream('s2', new FakeStream() as unknown as MediaStream);
    room.drop('s1');
    expect(room.tile('s1')).toBeUndefined();
    sessions[0]?.options.events.lost();
    room.close();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(events.refresh).not.toHaveBeenCalled();
    expect(sessions[0]?.closed).toBe(true);
    expect(room.tile('s2')).toBeUndefined();
    expect(room.uplink).toBeUndefined();
  });
});
