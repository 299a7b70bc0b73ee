import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type Clock, type Db, eventSource, type Logger, publishEvent, ServiceError, type Tx } from '@lessoncall/kit';
import { type Meeting, MediaRoomCreatedSchema, RecordingStartedSchema, type SfuAccess, SfuAccessSchema, subjects } from '@lessoncall/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { MediaConfig } from './config';
import { JanusError, janusCodes } from './janus/transport';
import { roomJoinToken, roomSecret, signedJanusToken } from './janus/tokens';
import type { MediaMetrics } from './metrics';
import { type NodePool, type NodeState, NoJanusNodeError } from './nodes';

export interface RoomRow {
  meeting_id: string;
  node: string;
  generation: number;
  room_secret: string;
  record: boolean;
  status: 'open' | 'closed';
}

const roomColumns = 'meeting_id, node, generation, room_secret, record, status';

export interface RoomsDeps {
  db: Db;
  js: JetStreamClient;
  pool: NodePool;
  clock: Clock;
  logger: Logger;
  metrics: MediaMetrics;
  config: Pick<MediaConfig, 'JANUS_ROOM_ADMIN_KEY' | 'JANUS_TOKEN_SECRET' | 'JANUS_TOKEN_TTL_SECONDS' | 'JANUS_RECORDINGS_DIR' | 'ROOM_EXTRA_PUBLISHERS'>;
}

const source = eventSource('media');

/** Janus says the thing is already gone: for a destroy or a kick, that is what we wanted. */
function alreadyGone(err: unknown): boolean {
  return err instanceof JanusError && (err.code === janusCodes.videoroomNoSuchRoom || err.code === janusCodes.videoroomNoSuchFeed);
}

/** Where a room writes its .mjr files (as the node sees it): one folder per meeting and generation. */
export function recordingDirOf(base: string, meetingId: string, generation: number): string {
  return join(base, meetingId, `g${generation}`);
}

/**
 * The VideoRoom of each sfu meeting, on one Janus node: created on the first session's access
 * with a secret and an `allowed` list, one token per live session added to it, removed when the
 * session leaves (and the session kicked), destroyed when the meeting ends, re-created on
 * another node when its node dies. The row in media_rooms is the truth; each change to it and
 * to Janus is made under the row's lock, so two replicas never place or move one room twice.
 */
export class Rooms {
  readonly #d: RoomsDeps;

  constructor(deps: RoomsDeps) {
    this.#d = deps;
  }

  /** This session's access to the meeting's room, the room created first when it is the first. */
  async access(meeting: Meeting, session: { sessionId: string; userId: string }): Promise<SfuAccess> {
    const { db, pool, clock, config } = this.#d;
    const meetingId = meeting.meetingId;
    const room = await this.#ensure(meeting);
    const node = pool.byId(room.node);
    if (!node) throw new Error(`room ${meetingId} is on unknown node ${room.node}`);
    const joinToken = await db.asService(async (tx) => {
      const { rows } = await tx.query<{ token: string; revoked_at: Date | null; meeting_id: string; user_id: string }>(
        `insert into media_tokens (session_id, meeting_id, user_id, token) values ($1, $2, $3, $4)
         on conflict (session_id) do update set session_id = excluded.session_id
         returning token, revoked_at, meeting_id, user_id::text`,
        [session.sessionId, meetingId, session.userId, roomJoinToken()],
      );
      const row = rows[0];
      if (!row || row.meeting_id !== meetingId || row.user_id !== session.userId) {
        throw new ServiceError('session_not_found', 'no such session in this meeting', { meetingId });
      }
      if (row.revoked_at) throw new ServiceError('session_not_found', 'this session has left the meeting', { meetingId });
      return row.token;
    });
    // Adding a token Janus already holds changes nothing: a refresh or a retry is safe.
    await this.#janus(node, () => node.admin.allow(meetingId, room.room_secret, 'add', [joinToken]));
    // Janus checks the core token on every request of the session (keepalives too): it lives at
    // least until the meeting's join window closes, so a lesson never outlives its token.
    const now = clock.now();
    const untilClose = meeting.joinableUntil ? Math.ceil((timestampDate(meeting.joinableUntil).getTime() - now.getTime()) / 1000) : 0;
    const core = signedJanusToken(config.JANUS_TOKEN_SECRET, now, Math.max(config.JANUS_TOKEN_TTL_SECONDS, untilClose));
    this.#d.metrics.accessIssued.add(1);
    return create(SfuAccessSchema, {
      meetingId,
      url: node.spec.url,
      roomId: meetingId,
      joinToken,
      janusToken: core.token,
      expiresAt: timestampFromDate(core.expiresAt),
      generation: room.generation,
      record: room.record,
      publisherId: session.sessionId,
    });
  }

  /** A call to a node; a node that does not answer is counted and the caller told to retry. */
  async #janus<T>(node: NodeState, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof JanusError) throw err;
      this.#d.pool.noteFailure(node);
      throw new ServiceError('sfu_unavailable', `the media node ${node.spec.id} does not answer; try again`, { retryAfterSeconds: 2 });
    }
  }

  async #ensure(meeting: Meeting): Promise<RoomRow> {
    const { db, pool, config, logger, clock } = this.#d;
    const meetingId = meeting.meetingId;
    const existing = await db.asService((tx) => this.#row(tx, meetingId));
    if (existing?.status === 'closed') throw new ServiceError('meeting_ended', 'the meeting has ended', { meetingId });
    if (existing) return existing;
    let node: NodeState;
    try {
      node = pool.pick();
    } catch (err) {
      if (err instanceof NoJanusNodeError) throw new ServiceError('sfu_unavailable', err.message, { meetingId, retryAfterSeconds: 2 });
      throw err;
    }
    const publishers = 1 + Math.max(1, meeting.studentIds.length) + config.ROOM_EXTRA_PUBLISHERS;
    const { row, created } = await db.asService(async (tx) => {
      const inserted = await tx.query<RoomRow>(
        `insert into media_rooms (meeting_id, node, room_secret, record, recording_status)
         values ($1, $2, $3, $4, case when $4 then 'recording' end)
         on conflict (meeting_id) do nothing returning ${roomColumns}`,
        [meetingId, node.spec.id, roomSecret(config.JANUS_ROOM_ADMIN_KEY, meetingId), meeting.record],
      );
      const mine = inserted.rows[0];
      // Another replica placed it meanwhile (its insert committed first): take theirs.
      if (!mine) return { row: (await this.#row(tx, meetingId)) as RoomRow, created: false };
      // Under the new row's lock: a concurrent access waits for this, then finds the room made.
      await this.#janus(node, () =>
        node.admin
          .createRoom({
            room: meetingId,
            secret: mine.room_secret,
            publishers,
            allowed: [],
            record: mine.record,
            recDir: recordingDirOf(config.JANUS_RECORDINGS_DIR, meetingId, mine.generation),
            description: meeting.title || meetingId,
          })
          .catch((err) => {
            if (err instanceof JanusError && err.code === janusCodes.videoroomRoomExists) return this.#recreate(node, mine, publishers);
            throw err;
          }),
      );
      return { row: mine, created: true };
    });
    if (created) {
      this.#d.metrics.roomsCreated.add(1, { reason: 'first_join' });
      logger.info({ meetingId, node: node.spec.id, record: row.record }, 'room created');
      await this.#announce(row, node, 'first_join');
      if (row.record) {
        await publishEvent(
          this.#d.js,
          subjects.recordingStarted(meetingId),
          RecordingStartedSchema,
          { meetingId, node: node.spec.id, startedAt: timestampFromDate(clock.now()) },
          { source, id: `recording.started:${meetingId}` },
        );
      }
    }
    return row;
  }

  /** A room left on the node by an attempt whose transaction did not commit: same secret (derived), so destroy it and start clean. */
  async #recreate(node: NodeState, row: RoomRow, publishers: number): Promise<void> {
    await node.admin.destroyRoom(row.meeting_id, row.room_secret).catch(() => {});
    await node.admin.createRoom({
      room: row.meeting_id,
      secret: row.room_secret,
      publishers,
      allowed: [],
      record: row.record,
      recDir: recordingDirOf(this.#d.config.JANUS_RECORDINGS_DIR, row.meeting_id, row.generation),
    });
  }

  async #row(tx: Tx, meetingId: string, lock = false): Promise<RoomRow | undefined> {
    const { rows } = await tx.query<RoomRow>(`select ${roomColumns} from media_rooms where meeting_id = $1${lock ? ' for update' : ''}`, [meetingId]);
    return rows[0];
  }

  async #announce(row: RoomRow, node: NodeState, reason: 'first_join' | 'node_failed', previousNode = ''): Promise<void> {
    await publishEvent(
      this.#d.js,
      subjects.mediaRoomCreated(row.meeting_id),
      MediaRoomCreatedSchema,
      {
        meetingId: row.meeting_id,
        node: node.spec.id,
        url: node.spec.url,
        generation: row.generation,
        record: row.record,
        reason,
        previousNode,
        createdAt: timestampFromDate(this.#d.clock.now()),
      },
      { source, id: `media.room_created:${row.meeting_id}:${row.generation}` },
    );
  }

  /** A session left: its token leaves the allowed list and, if still in the room, it is kicked. */
  async revoke(meetingId: string, sessionId: string): Promise<boolean> {
    const { db, pool, logger } = this.#d;
    const found = await db.asService(async (tx) => {
      const { rows } = await tx.query<{ token: string; node: string; room_secret: string; status: string }>(
        `update media_tokens t set revoked_at = now()
         from media_rooms r
         where t.session_id = $1 and t.meeting_id = $2 and t.revoked_at is null and r.meeting_id = t.meeting_id
         returning t.token, r.node, r.room_secret, r.status`,
        [sessionId, meetingId],
      );
      return rows[0];
    });
    if (found?.status !== 'open') return false;
    const node = pool.byId(found.node);
    if (!node?.alive) return true;
    try {
      await node.admin.allow(meetingId, found.room_secret, 'remove', [found.token]);
      await node.admin.kick(meetingId, found.room_secret, sessionId).catch((err) => {
        if (!alreadyGone(err)) throw err;
      });
    } catch (err) {
      // The row says revoked: a later move re-creates the room without it; a dead node forgets it.
      logger.warn({ meetingId, sessionId, node: found.node, err: (err as Error).message }, 'could not revoke a token on its node');
    }
    this.#d.metrics.tokensRevoked.add(1);
    return true;
  }

  /** The meeting ended: the room is destroyed and every token revoked. Returns the room as it was (or undefined). */
  async close(meetingId: string): Promise<RoomRow | undefined> {
    const { db, pool, logger } = this.#d;
    const row = await db.asService(async (tx) => {
      const { rows } = await tx.query<RoomRow>(
        `update media_rooms set status = 'closed', closed_at = now(),
           recording_status = case when record then 'processing' else recording_status end
         where meeting_id = $1 and status = 'open' returning ${roomColumns}`,
        [meetingId],
      );
      if (rows[0]) await tx.query('update media_tokens set revoked_at = now() where meeting_id = $1 and revoked_at is null', [meetingId]);
      return rows[0];
    });
    if (!row) return undefined;
    const node = pool.byId(row.node);
    if (node?.alive) {
      await node.admin.destroyRoom(meetingId, row.room_secret).catch((err) => {
        if (!alreadyGone(err)) logger.warn({ meetingId, node: row.node, err: (err as Error).message }, 'could not destroy the room on its node');
      });
    }
    this.#d.metrics.roomsClosed.add(1);
    logger.info({ meetingId, node: row.node }, 'room closed');
    return row;
  }

  /** Every open room of a dead node, re-created elsewhere (one at a time: each takes a lock and a Janus round trip). */
  async moveFrom(dead: NodeState): Promise<number> {
    const { rows } = await this.#d.db.asService((tx) =>
      tx.query<{ meeting_id: string }>(`select meeting_id from media_rooms where node = $1 and status = 'open' order by created_at`, [dead.spec.id]),
    );
    let moved = 0;
    for (const r of rows) if (await this.#move(r.meeting_id, dead)) moved += 1;
    return moved;
  }

  async #move(meetingId: string, dead: NodeState): Promise<boolean> {
    const { db, pool, config, logger } = this.#d;
    const target = pool.pick(dead.spec.id);
    const moved = await db.asService(async (tx) => {
      const row = await this.#row(tx, meetingId, true);
      // Closed meanwhile, or another replica moved it first.
      if (row?.status !== 'open' || row.node !== dead.spec.id) return undefined;
      const { rows: tokens } = await tx.query<{ token: string }>('select token from media_tokens where meeting_id = $1 and revoked_at is null', [meetingId]);
      const { rows: people } = await tx.query<{ n: number }>('select count(*)::int as n from media_tokens where meeting_id = $1', [meetingId]);
      const generation = row.generation + 1;
      const createRoom = () =>
        target.admin.createRoom({
          room: meetingId,
          secret: row.room_secret,
          publishers: Math.max(2, people[0]?.n ?? 0) + config.ROOM_EXTRA_PUBLISHERS,
          allowed: tokens.map((t) => t.token),
          record: row.record,
          recDir: recordingDirOf(config.JANUS_RECORDINGS_DIR, meetingId, generation),
        });
      await createRoom().catch(async (err) => {
        if (!(err instanceof JanusError && err.code === janusCodes.videoroomRoomExists)) throw err;
        await target.admin.destroyRoom(meetingId, row.room_secret).catch(() => {});
        await createRoom();
      });
      const { rows } = await tx.query<RoomRow>(`update media_rooms set node = $2, generation = $3 where meeting_id = $1 returning ${roomColumns}`, [
        meetingId,
        target.spec.id,
        generation,
      ]);
      return rows[0];
    });
    if (!moved) return false;
    this.#d.metrics.roomsCreated.add(1, { reason: 'node_failed' });
    logger.warn({ meetingId, from: dead.spec.id, to: target.spec.id, generation: moved.generation }, 'room moved off a dead node');
    await this.#announce(moved, target, 'node_failed', dead.spec.id);
    return true;
  }
}
