import type { Context } from './context';
import { announce, leftEvent } from './events';
import { type SessionRow, sessionColumns } from './rows';

export interface SweepResult {
  /** Connected sessions that stopped reporting, now treated as disconnected. */
  stale: number;
  /** Sessions closed because the grace period passed without a resume. */
  timedOut: number;
  /** Events published for a publisher that did not finish (crashed, or the bus did not answer). */
  relayed: number;
}

/**
 * One pass of the presence sweep. Safe on any number of replicas at once: rows are claimed with
 * FOR UPDATE SKIP LOCKED, every participant.left goes into the outbox in the transaction that
 * closes its session, and one replica at a time relays what the outbox still holds.
 */
export async function sweep(ctx: Context): Promise<SweepResult> {
  const now = ctx.clock.now();
  const stale = ctx.config.PRESENCE_STALE_SECONDS > 0 ? await markStale(ctx, now) : 0;
  const timedOut = await closeTimedOut(ctx, now);
  const relayed = await ctx.outbox.relay(new Date(now.getTime() - ctx.config.OUTBOX_RELAY_AFTER_MS), ctx.config.SWEEP_BATCH_SIZE);
  if (relayed > 0) ctx.metrics.outboxRelayed.add(relayed);
  return { stale, timedOut, relayed };
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
  const { closed, events } = await ctx.db.asService(async (tx) => {
    const r = await tx.query<SessionRow>(
      `update video_participants set left_at = $2, left_reason = 'timeout'
       where id in (
         select id from video_participants
         where left_at is null and not connected and disconnected_at <= $1
         order by disconnected_at limit $3 for update skip locked)
       returning ${sessionColumns}`,
      [cutoff, now, ctx.config.SWEEP_BATCH_SIZE],
    );
    const events = r.rows.map((row) => leftEvent(row));
    await ctx.outbox.add(tx, events);
    return { closed: r.rows, events };
  });
  // A bus that does not answer leaves these to the relay, on this pass or the next.
  await announce(ctx, events).catch((err) => ctx.logger.warn({ err }, 'participant.left left to the outbox relay'));
  for (const row of closed) {
    ctx.metrics.closed.add(1, { reason: 'timeout' });
    ctx.logger.info({ meetingId: row.meeting_id, sessionId: row.session_id, userId: row.user_id }, 'no resume within the grace period; session closed');
  }
  return closed.length;
}
