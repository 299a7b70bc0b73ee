import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { invalidRequest, ServiceError, type Tx } from '@lessoncall/kit';
import { type ParticipantQuality, type QualityReportRequest, type QualityReportResponseSchema, isSubjectToken } from '@lessoncall/proto';
import type { Context } from './context';
import * as valid from './validate';

function optionalIn(value: number | undefined, min: number, max: number, field: string): number | null {
  if (value === undefined) return null;
  if (!Number.isFinite(value) || value < min || value > max) throw invalidRequest(field, `${field} must be between ${min} and ${max}`);
  return value;
}

/**
 * svc.participant.quality_report: one sample of a live session's connection to one peer, as its
 * client measured it (getStats over the last interval). Stored with the check that the sender is
 * a live session of the meeting in the same statement, like a chat message.
 */
export async function qualityReport(ctx: Context, req: QualityReportRequest): Promise<MessageInitShape<typeof QualityReportResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const sessionId = valid.sessionId(req.sessionId);
  const s = req.sample;
  if (!s) throw invalidRequest('sample', 'a quality report needs its sample');
  if (!isSubjectToken(s.peerSessionId)) throw invalidRequest('sample.peerSessionId', 'peerSessionId is not a valid session id');
  const rtt = optionalIn(s.rttMs, 0, 60_000, 'sample.rttMs');
  const loss = optionalIn(s.lossRatio, 0, 1, 'sample.lossRatio');
  if (!Number.isInteger(s.intervalMs) || s.intervalMs < 1000 || s.intervalMs > 600_000) {
    throw invalidRequest('sample.intervalMs', 'sample.intervalMs must be between 1000 and 600000');
  }
  const at = req.receivedAt ? timestampDate(req.receivedAt) : ctx.clock.now();
  const r = await ctx.db.autocommit.query(
    `insert into video_call_quality (meeting_id, session_id, user_id, peer_session_id, rtt_ms, loss_ratio, relayed, interval_ms, received_at)
     select p.meeting_id, p.session_id, p.user_id, $4, $5, $6, $7, $8, $9
       from video_participants p
      where p.session_id = $1 and p.meeting_id = $2 and p.user_id = $3 and p.left_at is null`,
    [sessionId, meetingId, userId, s.peerSessionId, rtt, loss, s.relayed, s.intervalMs, at],
  );
  if (!r.rowCount) throw new ServiceError('not_in_meeting', 'only a live session of this meeting can report its call quality', { meetingId });
  ctx.metrics.qualityReports.add(1);
  return {};
}

/**
 * Per participant over the whole lesson: the median of the RTT samples, loss weighted by the
 * time each sample covers (a time share, not a packet count: clients report ratios), and the
 * share of reported time spent on a TURN relay. A participant with no samples is not listed.
 */
export async function qualityOf(tx: Tx, meetingId: string): Promise<Omit<ParticipantQuality, '$typeName'>[]> {
  const r = await tx.query<{ user_id: string; median_rtt: number | null; loss: number | null; relayed: number | null; reports: string }>(
    `select user_id,
            percentile_cont(0.5) within group (order by rtt_ms) as median_rtt,
            sum(loss_ratio * interval_ms) / nullif(sum(interval_ms) filter (where loss_ratio is not null), 0) as loss,
            sum(interval_ms) filter (where relayed)::double precision / nullif(sum(interval_ms), 0) as relayed,
            count(*) as reports
       from video_call_quality where meeting_id = $1
      group by user_id order by user_id`,
    [meetingId],
  );
  return r.rows.map((q) => ({
    userId: q.user_id,
    ...(q.median_rtt === null ? {} : { medianRttMs: Math.round(q.median_rtt * 10) / 10 }),
    ...(q.loss === null ? {} : { lossRatio: Math.round(q.loss * 10_000) / 10_000 }),
    relayedShare: Math.round((q.relayed ?? 0) * 1000) / 1000,
    reports: Number(q.reports),
  }));
}
