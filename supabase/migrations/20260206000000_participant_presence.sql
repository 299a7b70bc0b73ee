-- What the participant service needs beyond the first migration:
--  * video_participants.gateway_id: the gateway replica holding the session's socket. A client
--    that moves to another replica (drain on SIGTERM, network change) resumes there; the old
--    replica's late "disconnected" report names itself and is ignored, instead of starting the
--    grace period of a session that is in fact connected.
--  * an index for the no-show sweep: open meetings past their start whose no-show has not been
--    decided, so the sweep never scans the (much larger) set of future or finished meetings.

alter table public.video_participants
  add column if not exists gateway_id text
    constraint video_participants_gateway_id_format check (gateway_id ~ '^[A-Za-z0-9_-]{1,64}$');

create index if not exists video_meetings_no_show_due_idx on public.video_meetings (scheduled_start)
  where no_show_published_at is null and status in ('pending', 'active');

-- video_participants keeps RLS enabled and forced (first migration); the new column is covered
-- by the existing table grants: authenticated may read it, only service_role may write it.
