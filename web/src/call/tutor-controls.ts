/**
 * The tutor's controls as the client sees them, both sides: what the tutor asked for (remove,
 * ask to unmute, allow back) and what the student was asked or told (the unmute prompt, the
 * camera the tutor turned off). Plain state with no browser APIs, so tests drive it directly;
 * the call controller feeds it server messages and renders its snapshot.
 */
import type { ServerMessage } from './protocol';

export interface RemovedUser {
  userId: string;
  displayName: string;
}

export interface TutorControlsSnapshot {
  /** Student side: the tutor asked us to unmute and we have not answered. */
  unmuteAsked: boolean;
  /** Student side: the tutor turned our camera off (until we turn it on again). */
  cameraOffByTutor: boolean;
  /** Tutor side: users removed in this call, who may be allowed back. */
  removed: RemovedUser[];
}

export interface TutorControlsSink {
  notify(text: string): void;
  changed(): void;
}

type Pending = { kind: 'remove'; name: string } | { kind: 'ask'; name: string } | { kind: 'allow'; name: string };

export class TutorControls {
  private unmuteAsked = false;
  private cameraOffByTutor = false;
  private readonly removed = new Map<string, RemovedUser>();
  /** What each request of ours was about, to word its answer. */
  private readonly pending = new Map<string, Pending>();
  private snapshotValue: TutorControlsSnapshot = { unmuteAsked: false, cameraOffByTutor: false, removed: [] };

  constructor(private readonly sink: TutorControlsSink) {}

  snapshot(): TutorControlsSnapshot {
    return this.snapshotValue;
  }

  /** A request was sent; `name` is who it is about. */
  sent(requestId: string, kind: Pending['kind'], name: string): void {
    this.pending.set(requestId, { kind, name });
  }

  /** Handles the messages that are ours; false for any other. */
  handle(m: ServerMessage, names: { ofUser(userId: string): string | undefined }): boolean {
    switch (m.kind.case) {
      case 'unmuteAsked':
        this.unmuteAsked = true;
        this.update();
        return true;
      case 'participantRemoved': {
        const p = this.pending.get(m.requestId);
        this.pending.delete(m.requestId);
        const userId = m.kind.value.removedUserId;
        const displayName = m.kind.value.closed[0]?.displayName || p?.name || names.ofUser(userId) || 'The student';
        this.removed.set(userId, { userId, displayName });
        // No notice here: each closed session's peerLeft (reason removed) already says it.
        this.update();
        return true;
      }
      case 'rejoinAllowed': {
        const p = this.pending.get(m.requestId);
        this.pending.delete(m.requestId);
        const user = this.removed.get(m.kind.value.userId);
        this.removed.delete(m.kind.value.userId);
        this.sink.notify(`${user?.displayName ?? p?.name ?? 'They'} may join the lesson again`);
        this.update();
        return true;
      }
      case 'removals':
        // After every welcome of the tutor: the server's list, so "allow back" survives a reload.
        this.removed.clear();
        for (const r of m.kind.value.removed)
          this.removed.set(r.userId, { userId: r.userId, displayName: r.displayName || names.ofUser(r.userId) || 'The student' });
        this.update();
        return true;
      case 'unmuteAskSent': {
        const p = this.pending.get(m.requestId);
        this.pending.delete(m.requestId);
        this.sink.notify(`Asked ${p?.name ?? 'the student'} to unmute`);
        return true;
      }
      case 'error':
        // A refusal of one of our requests is worded by the caller; only forget it here.
        this.pending.delete(m.requestId);
        return false;
      default:
        return false;
    }
  }

  /** Student side: the prompt was answered (Unmute or Not now), or we unmuted by ourselves. */
  answerUnmute(): void {
    if (!this.unmuteAsked) return;
    this.unmuteAsked = false;
    this.update();
  }

  /** Student side: our camera was turned off by the tutor; `false` once we turn it on again. */
  setCameraOffByTutor(off: boolean): void {
    if (this.cameraOffByTutor === off) return;
    this.cameraOffByTutor = off;
    this.update();
  }

  /** A new call (rejoin from the lobby): nothing carries over. */
  reset(): void {
    this.unmuteAsked = false;
    this.cameraOffByTutor = false;
    this.removed.clear();
    this.pending.clear();
    this.update();
  }

  private update(): void {
    this.snapshotValue = { unmuteAsked: this.unmuteAsked, cameraOffByTutor: this.cameraOffByTutor, removed: [...this.removed.values()] };
    this.sink.changed();
  }
}
