import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { publishEvent, ServiceError, type Tx } from '@lessoncall/kit';
import { type BoardImage, MeetingRecordReadySchema, type RecordRequest, type RecordResponseSchema, subjects } from '@lessoncall/proto';
import { boardElements, compactBoard, loadBoard } from './board';
import { renderBoardSvg } from './board-svg';
import { type ChatRow, chatFromRow } from './chat';
import type { Context } from './context';
import { outboxOptions } from './events';
import { projectedMeeting } from './projection';
import { qualityOf } from './quality';
import { attendance } from './queries';
import * as valid from './validate';

type RecordParts = Omit<MessageInitShape<typeof RecordResponseSchema>['record'] & object, 'attendance' | '$typeName'>;

/**
 * Everything of the record that lives in this service's tables: the transcript, the quality
 * per participant, the final board image. Read in `tx`, which is the user's (RLS decides) or
 * the service's (the record_ready event).
 */
async function recordParts(ctx: Context, tx: Tx, meetingId: string): Promise<RecordParts> {
  const meeting = await projectedMeeting(tx, meetingId);
  if (!meeting) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
  if (meeting.status !== 'completed') throw new ServiceError('conflict', 'the lesson record is ready once the meeting has ended', { meetingId });
  const chat = await tx.query<ChatRow>(
    'select id, meeting_id, session_id, user_id, user_type, client_message_id, body, sent_at from video_chat_messages where meeting_id = $1 order by id',
    [meetingId],
  );
  const ended = await tx.query<{ ended_at: Date | null }>(
    `select coalesce((meeting->>'endedAt')::timestamptz, (select max(left_at) from video_participants where meeting_id = $1)) as ended_at
       from participant_meetings where meeting_id = $1`,
    [meetingId],
  );
  const endedAt = ended.rows[0]?.ended_at;
  const boardImage = await boardImageOf(ctx, tx, meetingId);
  return {
    meetingId,
    transcript: chat.rows.map(chatFromRow),
    quality: await qualityOf(tx, meetingId),
    ...(boardImage ? { boardImage } : {}),
    ...(endedAt ? { endedAt: timestampFromDate(endedAt) } : {}),
  };
}

/** The image rendered when the meeting ended, or (a record read before that finished) one rendered now from the stored board. */
async function boardImageOf(ctx: Context, tx: Tx, meetingId: string): Promise<Omit<BoardImage, '$typeName'> | undefined> {
  const r = await tx.query<{ final_svg: string | null; final_elements: number | null; final_width: number | null; final_height: number | null }>(
    'select final_svg, final_elements, final_width, final_height from video_boards where meeting_id = $1',
    [meetingId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const image =
    row.final_svg === null
      ? renderBoardSvg(boardElements((await loadBoard(tx, meetingId)).state))
      : { svg: row.final_svg, elements: row.final_elements ?? 0, width: row.final_width ?? 0, height: row.final_height ?? 0 };
  const omitted = Buffer.byteLength(image.svg) > ctx.config.RECORD_MAX_BOARD_IMAGE_BYTES;
  return { mediaType: 'image/svg+xml', data: omitted ? '' : image.svg, elements: image.elements, width: image.width, height: image.height, omitted };
}

/**
 * svc.participant.record: the lesson record once the meeting has ended — attendance, the whole
 * chat transcript, per-participant quality (an empty list when no client reported, never
 * zeros), the final board as an SVG image (absent when nobody drew). Read as the user, so RLS
 * decides who sees it: a stranger gets meeting_not_found, as for a meeting that does not exist.
 */
export async function record(ctx: Context, req: RecordRequest): Promise<MessageInitShape<typeof RecordResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const parts = await ctx.db.asUser(userId, (tx) => recordParts(ctx, tx, meetingId));
  const a = await attendance(ctx, { meetingId, userId, actorIsService: false, tutorId: '', studentId: '', $typeName: 'lessoncall.v1.AttendanceRequest' });
  return { record: { ...parts, attendance: a.attendance } };
}

/**
 * At the end of a meeting: folds its board into a final snapshot and renders it once (the
 * record's image, stored beside the board), then publishes meeting.record_ready with the whole
 * record. Not through the outbox: it announces no change of ours but is derived from the
 * meeting.ended being handled, whose ack waits for this publish. ce-id from the meeting id, so a
 * redelivered meeting.ended inside the stream's duplicate window publishes nothing twice; a
 * failure throws and the redelivery tries again.
 */
export async function publishRecordReady(ctx: Context, meetingId: string): Promise<void> {
  await compactBoard(ctx, meetingId);
  await ctx.db.asService(async (tx) => {
    const { row, state } = await loadBoard(tx, meetingId);
    if (!row) return;
    const image = renderBoardSvg(boardElements(state));
    await tx.query('update video_boards set final_svg = $2, final_elements = $3, final_width = $4, final_height = $5 where meeting_id = $1', [
      meetingId,
      image.svg,
      image.elements,
      image.width,
      image.height,
    ]);
  });
  const parts = await ctx.db.asService((tx) => recordParts(ctx, tx, meetingId));
  const a = await attendance(ctx, { meetingId, userId: '', actorIsService: true, tutorId: '', studentId: '', $typeName: 'lessoncall.v1.AttendanceRequest' });
  const body = { record: { ...parts, attendance: a.attendance } };
  try {
    await publishEvent(ctx.js, subjects.meetingRecordReady(meetingId), MeetingRecordReadySchema, body, {
      id: `meeting.record_ready:${meetingId}`,
      source: outboxOptions.source,
      time: ctx.clock.now(),
    });
  } catch (err) {
    throw new ServiceError('unavailable', 'could not publish meeting.record_ready', { retryAfterSeconds: 2 }, { cause: err });
  }
  ctx.metrics.recordsPublished.add(1);
  ctx.logger.info({ meetingId, boardElements: parts.boardImage?.elements ?? 0, messages: parts.transcript?.length ?? 0 }, 'lesson record published');
}
