import type { Context } from './context';
import { publishLeft } from './events';
import { type SessionRow, sessionColumns } from './rows';

export interface SweepResult {
  /** Connected sessions that stopped reporting, now treated as disconnected. */
  stale: number;
  /** Sessions closed because the grace period passed without a resume. */
  timedOut: number;
}

/**
 * One pass of the presence sweep. Safe on any number of replicas at once: rows are claimed with
 * FOR UPDATE SKIP LOCKED, and every event is published before the transaction that records it
 * commits, with a ce-id derived from the row, so a crash in between re-publishes the same event
 * (dropped by JetStream as a duplicate) instead of losing it.
 */
export async function sweep(ctx: Context): Promise<SweepResult> {
  const now = ctx.clock.now();
  const stale = ctx.config.PRESENCE_STALE_SECONDS > 0 ? await markStale(ctx, now) : 0;
  return { stale, timedOut: await closeTimedOut(ctx, now) };
}

async function markStale(ctx: Context, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - ctx.config.PRESENCE_STALE_SECONDS * 1000);
  const r = await ctx.db.asService((tx) =>
    tx.query<{ meeting_id: string; session_id: string }>(
      `update video_participants set connected = false, disconnected_at = last_seen_at
       where id in (
         select id from video_participants
         where left_at is null and connected and last_seen_at <= $1
         limit $2 for update skip locked)
       returning meeting_id, session_id`,
      [cutoff, ctx.config.SWEEP_BATCH_SIZE],
    ),
  );
  for (const s of r.rows) ctx.logger.warn({ meetingId: s.meeting_id, sessionId: s.session_id }, 'no presence report for too long; treated as disconnected');
  return r.rows.length;
}

async function closeTimedOut(ctx: Context, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - ctx.config.PRESENCE_GRACE_SECONDS * 1000);
  const closed = await ctx.db.asService(async (tx) => {
    const r = await tx.query<SessionRow>(
      `update video_participants set left_at = $2, left_reason = 'timeout'
       where id in (
         select id from video_participants
         where left_at is null and not connected and disconnected_at <= $1
         order by disconnected_at limit $3 for update skip locked)
       returning ${sessionColumns}`,
      [cutoff, now, ctx.config.SWEEP_BATCH_SIZE],
    );
    await Promise.all(r.rows.map((row) => publishLeft(ctx, row)));
    return r.rows;
  });
  for (const row of closed) {
    ctx.metrics.closed.inc({ reason: 'timeout' });
    ctx.logger.info({ meetingId: row.meeting_id, sessionId: row.session_id, userId: row.user_id }, 'no resume within the grace period; session closed');
  }
  return closed.length;
}
