import { JanusError, type JanusSocket, nodeJanusSocket } from './transport';

type Json = Record<string, unknown>;

/** A VideoRoom as the Admin API's `list` reports it. */
export interface RoomInfo {
  room: string;
  numParticipants: number;
  record: boolean;
}

export interface CreateRoom {
  room: string;
  /** Needed for every later change of the room (allowed, kick, destroy). */
  secret: string;
  /** Publishers at once: the meeting's people. */
  publishers: number;
  /** Only these tokens may join (the VideoRoom's ACL). */
  allowed: string[];
  record: boolean;
  recDir?: string;
  description?: string;
}

/**
 * A node's Admin API over its WebSocket transport (`janus-admin-protocol`), and the VideoRoom's
 * synchronous requests through `message_plugin` — the service never holds a Janus session of its
 * own, so nothing on the node times out or leaks when the service restarts.
 */
export class JanusAdmin {
  readonly #socket: JanusSocket;
  readonly #secret: string;
  readonly #roomAdminKey: string;

  constructor(url: string, options: { adminSecret: string; roomAdminKey: string; timeoutMs: number }) {
    this.#socket = nodeJanusSocket(url, 'janus-admin-protocol', options.timeoutMs);
    this.#secret = options.adminSecret;
    this.#roomAdminKey = options.roomAdminKey;
  }

  get url(): string {
    return this.#socket.url;
  }

  /** The server's `info`: answers only when the core and the transport are alive. */
  async info(): Promise<Json> {
    return this.#socket.request({ janus: 'info', admin_secret: this.#secret });
  }

  /** Janus API sessions open on the node (one per connected client). */
  async sessionCount(): Promise<number> {
    const r = await this.#socket.request({ janus: 'list_sessions', admin_secret: this.#secret });
    return Array.isArray(r.sessions) ? r.sessions.length : 0;
  }

  async #videoroom(request: Json): Promise<Json> {
    const r = await this.#socket.request({ janus: 'message_plugin', plugin: 'janus.plugin.videoroom', request, admin_secret: this.#secret });
    const response = (r.response ?? {}) as Json;
    if (typeof response.error_code === 'number') throw new JanusError(response.error_code, String(response.error ?? 'videoroom error'));
    return response;
  }

  async createRoom(c: CreateRoom): Promise<void> {
    await this.#videoroom({
      request: 'create',
      admin_key: this.#roomAdminKey,
      room: c.room,
      secret: c.secret,
      description: c.description ?? c.room,
      is_private: true,
      permanent: false,
      publishers: c.publishers,
      allowed: c.allowed,
      record: c.record,
      ...(c.recDir ? { rec_dir: c.recDir } : {}),
      // The allowed list gates publishers only: a subscription must name the private id of a
      // publisher in the room, so that nobody without a join token can watch (tested).
      require_pvtid: true,
      notify_joining: true,
      audiolevel_event: true,
    });
  }

  async destroyRoom(room: string, secret: string): Promise<void> {
    await this.#videoroom({ request: 'destroy', room, secret });
  }

  /** Adds or removes join tokens of the room's ACL. */
  async allow(room: string, secret: string, action: 'add' | 'remove', tokens: string[]): Promise<void> {
    if (tokens.length === 0) return;
    await this.#videoroom({ request: 'allowed', room, secret, action, allowed: tokens });
  }

  /** Participants in the room now: their ids (the session ids they joined with) and whether they publish. */
  async participants(room: string): Promise<{ id: string; publisher: boolean }[]> {
    const r = await this.#videoroom({ request: 'listparticipants', room });
    const list = Array.isArray(r.participants) ? (r.participants as Json[]) : [];
    return list.map((p) => ({ id: String(p.id), publisher: p.publisher === true }));
  }

  async kick(room: string, secret: string, id: string): Promise<void> {
    await this.#videoroom({ request: 'kick', room, secret, id });
  }

  /** Every room on the node, private ones included (with the admin key). */
  async rooms(): Promise<RoomInfo[]> {
    const r = await this.#videoroom({ request: 'list', admin_key: this.#roomAdminKey });
    const list = Array.isArray(r.list) ? (r.list as Json[]) : [];
    return list.map((x) => ({ room: String(x.room), numParticipants: Number(x.num_participants ?? 0), record: x.record === true }));
  }

  close(): void {
    this.#socket.close();
  }
}
