import type { Logger } from '@lessoncall/kit';
import type { JanusNodeSpec } from './config';
import { JanusAdmin } from './janus/admin';

export interface NodeState {
  spec: JanusNodeSpec;
  admin: JanusAdmin;
  alive: boolean;
  /** Probes missed in a row. */
  failures: number;
  /** From the last probe that answered. */
  rooms: number;
  participants: number;
  sessions: number;
}

/** No node is alive: a room cannot be placed anywhere now. */
export class NoJanusNodeError extends Error {
  override readonly name = 'NoJanusNodeError';
  readonly code = 'sfu_unavailable';
  constructor() {
    super('no Janus node is answering');
  }
}

/**
 * What a node carries: participants weigh most (each is a publisher and up to n-1 subscriptions),
 * rooms a little (a room with nobody in it yet is a lesson about to start), sessions break ties.
 */
export function loadOf(n: Pick<NodeState, 'rooms' | 'participants' | 'sessions'>): number {
  return n.participants * 10 + n.rooms * 3 + n.sessions;
}

/**
 * The Janus nodes, probed over the Admin API. A node that misses `deadAfter` probes in a row is
 * dead (`onDead`, every round while it stays dead, so its rooms move); one that answers again is alive and takes new rooms.
 * Rooms go to the least loaded live node, the way Jitsi's Jicofo picks a bridge by its stress.
 */
export class NodePool {
  readonly #nodes: NodeState[];
  readonly #deadAfter: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #probing: Promise<void> | undefined;
  onDead: (node: NodeState) => Promise<void> | void = () => {};

  constructor(specs: readonly JanusNodeSpec[], options: { adminSecret: string; roomAdminKey: string; timeoutMs: number; deadAfter: number; logger: Logger }) {
    this.#nodes = specs.map((spec) => ({
      spec,
      admin: new JanusAdmin(spec.adminUrl, options),
      // Optimistic until the first probe: a fresh service can place rooms before its first round.
      alive: true,
      failures: 0,
      rooms: 0,
      participants: 0,
      sessions: 0,
    }));
    this.#deadAfter = options.deadAfter;
    this.#logger = options.logger;
  }

  get nodes(): readonly NodeState[] {
    return this.#nodes;
  }

  byId(id: string): NodeState | undefined {
    return this.#nodes.find((n) => n.spec.id === id);
  }

  /** The least loaded live node, other than `except`. */
  pick(except?: string): NodeState {
    const candidates = this.#nodes.filter((n) => n.alive && n.spec.id !== except);
    if (candidates.length === 0) throw new NoJanusNodeError();
    return candidates.reduce((best, n) => (loadOf(n) < loadOf(best) ? n : best));
  }

  /** One round over every node (concurrent callers share it). */
  probe(): Promise<void> {
    this.#probing ??= Promise.all(this.#nodes.map((n) => this.#probeOne(n))).then(
      () => {
        this.#probing = undefined;
      },
      () => {
        this.#probing = undefined;
      },
    );
    return this.#probing;
  }

  async #probeOne(n: NodeState): Promise<void> {
    try {
      await n.admin.info();
      const [rooms, sessions] = await Promise.all([n.admin.rooms(), n.admin.sessionCount()]);
      n.rooms = rooms.length;
      n.participants = rooms.reduce((sum, r) => sum + r.numParticipants, 0);
      n.sessions = sessions;
      n.failures = 0;
      if (!n.alive) this.#logger.info({ node: n.spec.id }, 'janus node answers again');
      n.alive = true;
    } catch (err) {
      n.failures += 1;
      if (n.failures >= this.#deadAfter) {
        if (n.alive) this.#logger.warn({ node: n.spec.id, failures: n.failures, err: (err as Error).message }, 'janus node is dead');
        n.alive = false;
        // Every round while it stays dead: rooms that could not move last time (no other node
        // answered, a replica crashed mid-move) move now; nothing left to move is one query.
        try {
          await this.onDead(n);
        } catch (e) {
          this.#logger.error({ node: n.spec.id, err: e }, 'moving the rooms of a dead node failed');
        }
      }
    }
  }

  /** A request to a node failed: count it now rather than at the next probe. */
  noteFailure(n: NodeState): void {
    n.failures += 1;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      void this.probe();
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#probing;
    for (const n of this.#nodes) n.admin.close();
  }
}
