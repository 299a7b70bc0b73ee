import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { invalidRequest, publishCore, ServiceError } from '@lessoncall/kit';
import {
  type ChatHistoryRequest,
  type ChatHistoryResponseSchema,
  type ChatMessage,
  ChatMessageSchema,
  ChatPostedSchema,
  type ChatSendRequest,
  type ChatSendResponseSchema,
  subjects,
} from '@lessoncall/proto';
import type { Context } from './context';
import * as valid from './validate';

/** Characters (code points), as the table's check counts them. */
export const chatMaxLength = 2000;
/** What a join or resume is sent of the transcript: the latest messages, oldest first. */
export const chatHistoryLimit = 500;

const clientMessageIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export interface ChatRow {
  id: string;
  meeting_id: string;
  session_id: string;
  user_id: string;
  user_type: string;
  client_message_id: string;
  body: string;
  sent_at: Date;
}

const chatColumns = 'id, meeting_id, session_id, user_id, user_type, client_message_id, body, sent_at';

export function chatFromRow(r: ChatRow): ChatMessage {
  return create(ChatMessageSchema, {
    messageId: String(r.id),
    meetingId: r.meeting_id,
    sessionId: r.session_id,
    userId: r.user_id,
    userType: r.user_type,
    clientMessageId: r.client_message_id,
    text: r.body,
    sentAt: timestampFromDate(r.sent_at),
  });
}

/** Plain text as the user typed it; only what no one can see or that breaks a transcript is refused. */
function chatText(text: string): string {
  if (text.trim() === '') throw invalidRequest('text', 'a chat message needs some text');
  const length = [...text].length;
  if (length > chatMaxLength) {
    throw new ServiceError('message_too_large', `chat messages are limited to ${chatMaxLength} characters (this one has ${length})`, { field: 'text' });
  }
  // NUL cannot be stored in Postgres text; other control characters than tab and newlines are noise.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) throw invalidRequest('text', 'control characters are not allowed');
  return text;
}

/**
 * svc.participant.chat_send: the sender must be a live session of the meeting, of the user the
 * gateway authenticated. Checked and stored in one statement (the insert selects the live
 * session), so a session that closes in between cannot post. A resend with a known client
 * message id answers the stored message and publishes nothing again.
 */
export async function chatSend(ctx: Context, req: ChatSendRequest): Promise<MessageInitShape<typeof ChatSendResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const sessionId = valid.sessionId(req.sessionId);
  if (!clientMessageIdPattern.test(req.clientMessageId)) throw invalidRequest('clientMessageId', 'clientMessageId: 1–64 of A–Z a–z 0–9 _ -');
  const text = chatText(req.text);
  const now = ctx.clock.now();
  const { row, duplicate } = await ctx.db.asService(async (tx) => {
    const inserted = await tx.query<ChatRow>(
      `insert into video_chat_messages (meeting_id, session_id, user_id, user_type, client_message_id, body, sent_at)
       select p.meeting_id, p.session_id, p.user_id, p.user_type, $4, $5, $6
         from video_participants p
        where p.session_id = $1 and p.meeting_id = $2 and p.user_id = $3 and p.left_at is null
       on conflict (meeting_id, user_id, client_message_id) do nothing
       returning ${chatColumns}`,
      [sessionId, meetingId, userId, req.clientMessageId, text, now],
    );
    if (inserted.rows[0]) return { row: inserted.rows[0], duplicate: false };
    const stored = await tx.query<ChatRow>(`select ${chatColumns} from video_chat_messages where meeting_id = $1 and user_id = $2 and client_message_id = $3`, [
      meetingId,
      userId,
      req.clientMessageId,
    ]);
    if (stored.rows[0]) return { row: stored.rows[0], duplicate: true };
    throw new ServiceError('not_in_meeting', 'only a live session of this meeting can send chat messages', { meetingId });
  });
  const message = chatFromRow(row);
  if (duplicate) {
    ctx.metrics.chatDuplicates.add(1);
  } else {
    ctx.metrics.chatMessages.add(1);
    // Core NATS: the row is the record and the history heals a socket that missed this.
    publishCore(ctx.nc, subjects.chatPosted(meetingId), ChatPostedSchema, { message });
  }
  return { message, duplicate };
}

/** svc.participant.chat_history: the latest messages, read as the user, so RLS is the gate (a stranger reads nothing). */
export async function chatHistory(ctx: Context, req: ChatHistoryRequest): Promise<MessageInitShape<typeof ChatHistoryResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const rows = await ctx.db.asUser(userId, async (tx) => {
    const visible = await tx.query('select 1 from participant_meetings where meeting_id = $1', [meetingId]);
    if (!visible.rowCount) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
    const r = await tx.query<ChatRow>(`select ${chatColumns} from video_chat_messages where meeting_id = $1 order by id desc limit $2`, [
      meetingId,
      chatHistoryLimit + 1,
    ]);
    return r.rows;
  });
  const truncated = rows.length > chatHistoryLimit;
  return { messages: rows.slice(0, chatHistoryLimit).reverse().map(chatFromRow), truncated };
}
