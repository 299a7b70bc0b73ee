-- Passcode lockout per (meeting, user, client) (issue 18, item 5).
--
-- The lock used to be meeting-wide as well as per client: five typos by the student locked the
-- tutor out of their own lesson. Failures are now counted only per meeting, per user and per
-- client key (IPv6 keyed by its /64), so one party's mistakes lock only that party on that
-- client. Only the meeting's tutor and student reach the passcode check at all (verify_join
-- refuses anybody else first), so a guesser is bounded by their own counter.
--
-- The counters are transient (a lock lasts minutes): existing rows, which have no user, are
-- dropped rather than guessed at.

alter table public.video_meetings
  drop column failed_passcode_attempts,
  drop column passcode_window_started_at,
  drop column locked_until;

delete from public.video_passcode_failures;

alter table public.video_passcode_failures
  add column user_id uuid not null,
  drop constraint video_passcode_failures_pkey,
  add primary key (meeting_id, user_id, client_key);
