import type { MessageInitShape } from '@bufbuild/protobuf';
import { invalidRequest, publishCore, ServiceError, type Tx } from '@lessoncall/kit';
import {
  type BoardAppendRequest,
  type BoardAppendResponseSchema,
  BoardControlledSchema,
  type BoardControlRequest,
  type BoardControlResponseSchema,
  type BoardStateRequest,
  type BoardStateResponseSchema,
  BoardUpdatedSchema,
  subjects,
} from '@lessoncall/proto';
import * as Y from 'yjs';
import type { Context } from './context';
import * as valid from './validate';

/** The Y.Map of a board document that holds its elements by element id (the web client's binding writes it). */
export const boardElementsKey = 'elements';

interface BoardRow {
  locked: boolean;
  snapshot: Buffer;
  snapshot_update_id: string;
  size_bytes: number;
}

/** The stored board as one Yjs update: the snapshot merged with every update after it. */
export async function loadBoard(tx: Tx, meetingId: string): Promise<{ row: BoardRow | undefined; state: Uint8Array }> {
  // One statement, so one snapshot of both tables: read as two, a compaction committing in
  // between (read committed) left the old snapshot with its updates already deleted — an
  // empty board in a record read as the lesson ended (the browser suite's whiteboard record).
  const b = await tx.query<BoardRow & { bodies: Buffer[] }>(
    `select b.locked, b.snapshot, b.snapshot_update_id, b.size_bytes,
       coalesce((select array_agg(u.body order by u.id) from video_board_updates u
                 where u.meeting_id = b.meeting_id and u.id > b.snapshot_update_id), '{}') as bodies
     from video_boards b where b.meeting_id = $1`,
    [meetingId],
  );
  const found = b.rows[0];
  if (!found) return { row: undefined, state: Y.encodeStateAsUpdate(new Y.Doc()) };
  const { bodies, ...row } = found;
  return { row, state: mergeStored(row.snapshot, bodies) };
}

function mergeStored(snapshot: Uint8Array, updates: Uint8Array[]): Uint8Array {
  const parts = [snapshot, ...updates].filter((p) => p.length > 0);
  if (parts.length === 0) return Y.encodeStateAsUpdate(new Y.Doc());
  return parts.length === 1 ? (parts[0] as Uint8Array) : Y.mergeUpdates(parts);
}

/** The board's elements as the web client stored them (plain JSON objects), for rendering. */
export function boardElements(state: Uint8Array): unknown[] {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  return [...doc.getMap(boardElementsKey).values()];
}

function checkUpdate(ctx: Context, update: Uint8Array): void {
  if (update.length === 0) throw invalidRequest('update', 'a board update needs some bytes');
  const max = ctx.config.BOARD_MAX_UPDATE_BYTES;
  if (update.length > max)
    throw new ServiceError('message_too_large', `board updates are limited to ${max} bytes (this one has ${update.length})`, { field: 'update' });
  try {
    // Parses every struct: garbage is refused here, before it can poison the stored board.
    Y.decodeUpdate(update);
  } catch {
    throw invalidRequest('update', 'update is not a Yjs update');
  }
}

/** Creates the meeting's board row on its first use (the projection row it references exists: a live session needs it). */
async function ensureBoard(tx: Tx, meetingId: string): Promise<void> {
  await tx.query('insert into video_boards (meeting_id) values ($1) on conflict (meeting_id) do nothing', [meetingId]);
}

/**
 * svc.participant.board_append: a live session of the meeting (a student only while the board
 * is unlocked) appends one update. Checked and stored in one statement: the board row's update
 * does the checks, counts the size against BOARD_MAX_BYTES and serialises appends with a clear
 * or a compaction; the insert takes its result. The sender is answered once the row is stored,
 * so an acknowledged stroke survives any crash. Yjs updates are idempotent: a resend stores a
 * second row, but the board converges to the same state.
 */
export async function boardAppend(ctx: Context, req: BoardAppendRequest): Promise<MessageInitShape<typeof BoardAppendResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const sessionId = valid.sessionId(req.sessionId);
  checkUpdate(ctx, req.update);
  const now = ctx.clock.now();
  const append = () =>
    ctx.db.autocommit.query<{ size_bytes: number; pending_updates: number }>(
      `with b as (
         update video_boards b
            set size_bytes = b.size_bytes + $4, pending_updates = b.pending_updates + 1, updated_at = $6
           from video_participants p
          where b.meeting_id = $2 and p.meeting_id = b.meeting_id and p.session_id = $1 and p.user_id = $3 and p.left_at is null
            and (not b.locked or p.user_type = 'tutor') and b.size_bytes + $4 <= $7
         returning b.size_bytes, b.pending_updates
       )
       insert into video_board_updates (meeting_id, session_id, user_id, body, created_at)
       select $2, $1, $3, $5, $6 from b
       returning (select size_bytes from b), (select pending_updates from b)`,
      [sessionId, meetingId, userId, req.update.length, req.update, now, ctx.config.BOARD_MAX_BYTES],
    );
  let r = await append();
  if (!r.rows[0]) {
    await refusal(ctx, meetingId, sessionId, userId, req.update.length);
    // The board row did not exist yet (its first stroke), and the session is live: once more.
    r = await append();
  }
  const stored = r.rows[0];
  if (!stored) throw new ServiceError('conflict', 'the board changed while the update was stored; send it again', { meetingId });
  ctx.metrics.boardUpdates.add(1);
  ctx.metrics.boardBytes.add(req.update.length);
  publishCore(ctx.nc, subjects.boardUpdated(meetingId), BoardUpdatedSchema, { meetingId, sessionId, userId, update: req.update });
  if (stored.pending_updates >= ctx.config.BOARD_COMPACT_EVERY) {
    // After the answer: the stroke is stored either way, and a failed compaction is retried on the next append.
    void compactBoard(ctx, meetingId).catch((err) => ctx.logger.warn({ err, meetingId }, 'board compaction failed'));
  }
  return { sizeBytes: stored.size_bytes };
}

/** Why an append stored nothing, as the error the sender gets; returns only when the board row was missing and is now created. */
async function refusal(ctx: Context, meetingId: string, sessionId: string, userId: string, size: number): Promise<void> {
  const r = await ctx.db.autocommit.query<{ user_type: string; locked: boolean | null; size_bytes: number | null }>(
    `select p.user_type, b.locked, b.size_bytes from video_participants p
       left join video_boards b on b.meeting_id = p.meeting_id
      where p.session_id = $1 and p.meeting_id = $2 and p.user_id = $3 and p.left_at is null`,
    [sessionId, meetingId, userId],
  );
  const s = r.rows[0];
  if (!s) throw new ServiceError('not_in_meeting', 'only a live session of this meeting can draw on its board', { meetingId });
  if (s.locked === null) {
    await ensureBoard(ctx.db.autocommit, meetingId);
    return;
  }
  if (s.locked && s.user_type !== 'tutor') throw new ServiceError('board_locked', 'the tutor has locked the board', { meetingId });
  if ((s.size_bytes ?? 0) + size > ctx.config.BOARD_MAX_BYTES) {
    ctx.metrics.boardFull.add(1);
    throw new ServiceError('board_full', `the board is full (${ctx.config.BOARD_MAX_BYTES} bytes stored at most); the tutor can clear it`, { meetingId });
  }
}

/**
 * Folds the stored updates into a new snapshot (Y.encodeStateAsUpdate of the merged document,
 * which also drops the content of deleted elements) and deletes what it folded. The board row
 * is locked for the transaction: appends wait, so the new size is exactly the snapshot's.
 */
export async function compactBoard(ctx: Context, meetingId: string): Promise<number> {
  return ctx.db.asService(async (tx) => {
    const locked = await tx.query<BoardRow>('select snapshot, snapshot_update_id from video_boards where meeting_id = $1 for update', [meetingId]);
    const row = locked.rows[0];
    if (!row) return 0;
    const u = await tx.query<{ id: string; body: Buffer }>('select id, body from video_board_updates where meeting_id = $1 and id > $2 order by id', [
      meetingId,
      row.snapshot_update_id,
    ]);
    const last = u.rows.at(-1);
    if (!last) return row.snapshot.length;
    const doc = new Y.Doc();
    Y.applyUpdate(
      doc,
      mergeStored(
        row.snapshot,
        u.rows.map((x) => x.body),
      ),
    );
    const snapshot = Y.encodeStateAsUpdate(doc);
    await tx.query(
      `update video_boards set snapshot = $2, snapshot_update_id = $3, size_bytes = $4, pending_updates = 0, updated_at = $5 where meeting_id = $1`,
      [meetingId, snapshot, last.id, snapshot.length, ctx.clock.now()],
    );
    await tx.query('delete from video_board_updates where meeting_id = $1 and id <= $2', [meetingId, last.id]);
    ctx.metrics.boardCompactions.add(1);
    return snapshot.length;
  });
}

function stateVectorOf(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length === 0) return undefined;
  try {
    Y.decodeStateVector(bytes);
    return bytes;
  } catch {
    throw invalidRequest('stateVector', 'stateVector is not a Yjs state vector');
  }
}

/**
 * svc.participant.board_state: what the caller's document lacks, and the stored board's state
 * vector so the caller can send back what the board lacks (a resumed session's offline strokes).
 * Read as the user, so RLS is the gate: a stranger gets meeting_not_found.
 */
export async function boardState(ctx: Context, req: BoardStateRequest): Promise<MessageInitShape<typeof BoardStateResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const sv = stateVectorOf(req.stateVector);
  const { row, state } = await ctx.db.asUser(userId, async (tx) => {
    const visible = await tx.query('select 1 from participant_meetings where meeting_id = $1', [meetingId]);
    if (!visible.rowCount) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
    return loadBoard(tx, meetingId);
  });
  return {
    state: {
      update: sv ? Y.diffUpdate(state, sv) : state,
      stateVector: Y.encodeStateVectorFromUpdate(state),
      locked: row?.locked ?? false,
      sizeBytes: row?.size_bytes ?? 0,
      maxBytes: ctx.config.BOARD_MAX_BYTES,
    },
  };
}

/**
 * svc.participant.board_control: the meeting's tutor, from a live session, locks or unlocks the
 * board for students and/or clears it. A clear is a Yjs update made here (every element deleted
 * from the map), stored and fanned out like any other, so it converges with strokes in flight:
 * a stroke drawn concurrently with the clear survives it, as it would between two editors.
 */
export async function boardControl(ctx: Context, req: BoardControlRequest): Promise<MessageInitShape<typeof BoardControlResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const sessionId = valid.sessionId(req.sessionId);
  if (req.locked === undefined && !req.clear) throw invalidRequest('locked', 'say locked, clear or both');
  const now = ctx.clock.now();
  const result = await ctx.db.asService(async (tx) => {
    const s = await tx.query<{ user_type: string }>(
      'select user_type from video_participants where session_id = $1 and meeting_id = $2 and user_id = $3 and left_at is null',
      [sessionId, meetingId, userId],
    );
    const who = s.rows[0];
    if (!who) throw new ServiceError('not_in_meeting', 'only a live session of this meeting can control its board', { meetingId });
    if (who.user_type !== 'tutor') throw new ServiceError('forbidden', 'only the tutor can lock or clear the board', { meetingId });
    await ensureBoard(tx, meetingId);
    const b = await tx.query<{ locked: boolean }>('select locked from video_boards where meeting_id = $1 for update', [meetingId]);
    let locked = b.rows[0]?.locked ?? false;
    if (req.locked !== undefined) {
      locked = req.locked;
      await tx.query('update video_boards set locked = $2, updated_at = $3 where meeting_id = $1', [meetingId, locked, now]);
    }
    let update: Uint8Array = new Uint8Array();
    if (req.clear) {
      update = clearingUpdate((await loadBoard(tx, meetingId)).state);
      if (update.length > 0) {
        await tx.query('insert into video_board_updates (meeting_id, session_id, user_id, body, created_at) values ($1, $2, $3, $4, $5)', [
          meetingId,
          sessionId,
          userId,
          update,
          now,
        ]);
        await tx.query('update video_boards set size_bytes = size_bytes + $2, pending_updates = pending_updates + 1 where meeting_id = $1', [
          meetingId,
          update.length,
        ]);
      }
    }
    return { locked, update };
  });
  if (result.update.length > 0) {
    publishCore(ctx.nc, subjects.boardUpdated(meetingId), BoardUpdatedSchema, { meetingId, sessionId, userId, update: result.update });
    // A cleared board is small again once folded: do it now, so the size limit frees up at once.
    await compactBoard(ctx, meetingId);
  }
  publishCore(ctx.nc, subjects.boardControlled(meetingId), BoardControlledSchema, {
    meetingId,
    locked: result.locked,
    cleared: req.clear,
    byUserId: userId,
    bySessionId: sessionId,
  });
  return result;
}

/** The update that deletes every element of the board `state`; empty when there is nothing to delete. */
export function clearingUpdate(state: Uint8Array): Uint8Array {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  const elements = doc.getMap(boardElementsKey);
  if (elements.size === 0) return new Uint8Array();
  const before = Y.encodeStateVector(doc);
  doc.transact(() => {
    for (const key of [...elements.keys()]) elements.delete(key);
  });
  return Y.encodeStateAsUpdate(doc, before);
}
