/**
 * Who else is in the meeting, as the signaling session tells it: the welcome's participants,
 * then peerJoined, peerLeft and muteChanged. In join order (a Map keeps insertion order), our own
 * session never in it. What livekit's Room keeps as its remote participants.
 */
import type { ParticipantView } from './protocol';

export class Roster {
  readonly #people = new Map<string, ParticipantView>();

  /** Everyone, in join order. */
  list(): ParticipantView[] {
    return [...this.#people.values()];
  }

  sessionIds(): string[] {
    return [...this.#people.keys()];
  }

  get(sessionId: string): ParticipantView | undefined {
    return this.#people.get(sessionId);
  }

  has(sessionId: string): boolean {
    return this.#people.has(sessionId);
  }

  /** What the notices call them. */
  nameOf(sessionId: string): string {
    return this.#people.get(sessionId)?.displayName ?? 'Someone';
  }

  /** The display name of a user with a session here (any of their tabs). */
  nameOfUser(userId: string): string | undefined {
    return this.list().find((p) => p.userId === userId)?.displayName;
  }

  /** The sessions of ours that a resumed welcome no longer lists: they left while we were away. */
  goneFrom(others: readonly ParticipantView[]): string[] {
    const live = new Set(others.map((p) => p.sessionId));
    return this.sessionIds().filter((id) => !live.has(id));
  }

  /** Adds or updates a participant; true when they were not here before. */
  put(p: ParticipantView): boolean {
    const isNew = !this.#people.has(p.sessionId);
    this.#people.set(p.sessionId, p);
    return isNew;
  }

  /** Their microphone (audio) or camera (video) as the server now has it; false for a session we do not know. */
  setMuted(sessionId: string, kind: string, muted: boolean): boolean {
    const p = this.#people.get(sessionId);
    if (!p) return false;
    this.#people.set(sessionId, kind === 'audio' ? { ...p, audioMuted: muted } : { ...p, cameraOff: muted });
    return true;
  }

  remove(sessionId: string): void {
    this.#people.delete(sessionId);
  }

  clear(): void {
    this.#people.clear();
  }
}
